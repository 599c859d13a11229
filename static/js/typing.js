// "alice is typing…": sent at most once per interval the server passes on, and
// shown for a while after each frame (longer than the interval, so it does not
// flicker between frames).

import { gettext } from "./i18n.js";

const SHOWN_AT_LEAST_MS = 4000;

export function typingText(names) {
  if (names.length === 1) return gettext("%(name)s is typing…", { name: names[0] });
  if (names.length === 2) return gettext("%(name)s and %(other)s are typing…", { name: names[0], other: names[1] });
  if (names.length > 2) return gettext("Several people are typing…");
  return "";
}

// Whether a `typing` frame is worth sending now: the server drops the rest.
export class TypingThrottle {
  constructor(intervalMs, now = () => Date.now()) {
    this.intervalMs = intervalMs;
    this.now = now;
    this.lastSent = -Infinity;
  }

  due() {
    return this.now() - this.lastSent >= this.intervalMs;
  }

  sent() {
    this.lastSent = this.now();
  }

  // A message went out: the server stops showing us as typing, so the next
  // keystroke says so again at once.
  reset() {
    this.lastSent = -Infinity;
  }
}

export class TypingIndicator {
  constructor(element, intervalMs) {
    this.element = element;
    this.shownMs = Math.max(SHOWN_AT_LEAST_MS, 2 * intervalMs);
    this.typers = new Map(); // user id -> {name, timer}
  }

  show(user) {
    this.clear(user.id);
    const timer = setTimeout(() => this.clear(user.id), this.shownMs);
    this.typers.set(user.id, { name: user.username, timer });
    this.render();
  }

  clear(userId) {
    const typer = this.typers.get(userId);
    if (!typer) return;
    clearTimeout(typer.timer);
    this.typers.delete(userId);
    this.render();
  }

  render() {
    this.element.textContent = typingText(Array.from(this.typers.values(), (typer) => typer.name));
  }
}
