// The message box: Enter sends, Shift+Enter breaks the line, a counter near the
// body limit (enforced here, not by `maxlength`, which would cut a paste
// silently), and the error line under it says why something was not sent.

import { gettext } from "./i18n.js";

const ERROR_SHOWN_MS = 8000;

// Why `body` can't be sent as it is, or "" when it can. The frame limit matters
// only if the body limit is set high: the server closes a socket over it.
export function bodyProblem(body, { maxChars, maxFrameBytes }) {
  if (body.length > maxChars) {
    return gettext("A message is at most %(max)s characters (this one has %(length)s).", { max: maxChars, length: body.length });
  }
  const frameBytes = new TextEncoder().encode(JSON.stringify({ type: "send", body, client_id: "" })).length;
  if (frameBytes > maxFrameBytes) return gettext("This message is too large to send.");
  return "";
}

// The counter shows from this share of the limit on.
const COUNTER_FROM = 0.9;

// The counter near the limit: {text, over}, or null while far from it.
export function counterState(length, maxChars) {
  if (length < maxChars * COUNTER_FROM) return null;
  if (length > maxChars) {
    return { text: gettext("%(count)s over the limit of %(max)s", { count: length - maxChars, max: maxChars }), over: true };
  }
  return { text: gettext("%(count)s left", { count: maxChars - length }), over: false };
}

export class Composer {
  // `onKey(event)` sees each key first (autocomplete, Escape) and returns true
  // when it took it; `onInput` follows each change of the text. `canSendEmpty()`
  // says whether an empty text may go (files are attached).
  constructor({ form, body, error, counter, limits, onMessage, onTyping, onKey = () => false, onInput = () => {}, canSendEmpty = () => false }) {
    Object.assign(this, { form, body, error, counter, limits, onMessage, onTyping, onKey, onInput, canSendEmpty });
    this.errorTimer = null;
    this.closed = false;
    form.addEventListener("submit", (event) => this.submit(event));
    body.addEventListener("keydown", (event) => this.keydown(event));
    body.addEventListener("input", () => {
      this.showCount();
      this.onInput();
      if (this.body.value.trim()) this.onTyping();
    });
  }

  showCount() {
    if (!this.counter) return;
    const state = counterState(this.body.value.trim().length, this.limits.maxChars);
    this.counter.hidden = !state;
    this.counter.textContent = state ? state.text : "";
    this.counter.classList.toggle("over", Boolean(state && state.over));
  }

  // Put `text` in the box (an edit starts from the message's body).
  setText(text) {
    this.body.value = text;
    this.showCount();
    this.body.focus();
    this.body.setSelectionRange(text.length, text.length);
  }

  submit(event) {
    event.preventDefault();
    const text = this.body.value.trim();
    if (!text && !this.canSendEmpty()) return;
    const problem = bodyProblem(text, this.limits);
    if (problem) {
      this.showError(problem);
      return;
    }
    if (this.onMessage(text) === false) return;
    this.body.value = "";
    this.showCount();
    this.hideError();
  }

  keydown(event) {
    if (this.onKey(event)) return;
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.form.requestSubmit();
    }
  }

  // Give back the text of a message the server refused for good.
  restore(text) {
    if (!this.body.value) this.body.value = text;
    this.showCount();
  }

  showError(text, sticky = false) {
    clearTimeout(this.errorTimer);
    this.error.textContent = text;
    this.error.hidden = false;
    if (!sticky) this.errorTimer = setTimeout(() => this.hideError(), ERROR_SHOWN_MS);
  }

  hideError() {
    if (this.closed) return;
    this.error.hidden = true;
    this.error.textContent = "";
  }

  // No access any more: nothing can be sent, and the reason stays.
  close(reason) {
    this.body.disabled = true;
    this.form.querySelector("button[type=submit]").disabled = true;
    this.showError(reason, true);
    this.closed = true;
  }
}
