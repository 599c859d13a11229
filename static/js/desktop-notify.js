// Desktop notifications (the browser's Notification API) for a mention or a
// direct message that arrives while the app is open but nobody is looking: the
// tab is hidden. Every open tab of the user gets the same frame over its own
// socket, so ONE tab shows it: the tab focused most recently, as recorded in
// localStorage. When that tab has been closed, the hidden tabs left claim the
// notification's id (a Web Lock, else localStorage) and the first one wins.
// A visible tab never shows one: its toast does the job. Permission is only
// ever asked on a click (the settings page's push widget).

import { sitePath } from "./inbox.js";

export const DESKTOP_KINDS = new Set(["mention", "direct"]);
export const FOCUS_KEY = "relay.desktop.focus";
export const CLAIMED_KEY = "relay.desktop.claimed";
// How long a claim holds: far longer than the same frame takes to reach every tab.
export const CLAIM_MS = 30_000;
const BODY_CHARS = 180;

/** Read the focus record ({tab, closed}) from storage; null when absent or unreadable. */
export function readFocus(storage) {
  try {
    const value = JSON.parse(storage.getItem(FOCUS_KEY) || "null");
    return value && typeof value.tab === "string" ? { tab: value.tab, closed: Boolean(value.closed) } : null;
  } catch {
    return null;
  }
}

/**
 * What this tab does with a notification frame: "show" (it is the tab focused
 * most recently), "claim" (that tab is gone: race the other hidden tabs for it),
 * or why not: "permission", "kind", "read", "visible", "other-tab".
 */
export function desktopDecision({ notification, tabId, visible, focus, permission }) {
  if (permission !== "granted") return "permission";
  if (!notification || !DESKTOP_KINDS.has(notification.kind)) return "kind";
  if (notification.read) return "read";
  if (visible) return "visible";
  if (focus && !focus.closed) return focus.tab === tabId ? "show" : "other-tab";
  return "claim";
}

export class DesktopNotifier {
  /**
   * storage: localStorage (shared by the tabs); locks: navigator.locks or null;
   * isVisible(): whether this tab is visible; permission(): the Notification
   * permission; show(notification): draw it; wait(ms): a promise (a timer).
   */
  constructor({ storage, locks = null, tabId, isVisible, permission, show, wait }) {
    Object.assign(this, { storage, locks, tabId, isVisible, permission, show, wait });
  }

  /** This tab has the user's attention now: it becomes the one that shows. */
  focused() {
    this.write(FOCUS_KEY, { tab: this.tabId, closed: false });
  }

  /** This tab goes away (closed, or into the back/forward cache). */
  leaving() {
    const focus = readFocus(this.storage);
    if (focus && focus.tab === this.tabId) this.write(FOCUS_KEY, { tab: this.tabId, closed: true });
  }

  /** Offer a live notification frame's notification; resolves to whether this tab showed it. */
  async offer(notification) {
    const decision = desktopDecision({
      notification,
      tabId: this.tabId,
      visible: this.isVisible(),
      focus: readFocus(this.storage),
      permission: this.permission(),
    });
    if (decision === "show") {
      this.show(notification);
      return true;
    }
    if (decision === "claim") return this.claim(notification);
    return false;
  }

  async claim(notification) {
    const id = Number(notification.id) || 0;
    if (this.locks) {
      // Held past the moment every tab has tried: the losers find it taken.
      return this.locks.request(`${CLAIMED_KEY}.${id}`, { ifAvailable: true }, async (lock) => {
        if (!lock) return false;
        this.show(notification);
        await this.wait(CLAIM_MS);
        return true;
      });
    }
    // Without Web Locks: check-then-set in storage. Two tabs may both pass in the
    // same instant; the notification's tag still folds them into one on screen.
    let claimed = 0;
    try {
      claimed = Number(this.storage.getItem(CLAIMED_KEY)) || 0;
    } catch {
      // Storage refused: claim it.
    }
    if (claimed >= id) return false;
    this.write(CLAIMED_KEY, id);
    this.show(notification);
    return true;
  }

  write(key, value) {
    try {
      this.storage.setItem(key, JSON.stringify(value));
    } catch {
      // Private mode: each tab decides alone; the tag folds duplicates.
    }
  }
}

function showDesktop(notification) {
  try {
    const body = String(notification.body || "");
    const shown = new Notification(String(notification.title || ""), {
      body: body.length > BODY_CHARS ? `${body.slice(0, BODY_CHARS - 1)}…` : body,
      // The same tag as a push of it would have: never two on screen.
      tag: `notification-${notification.id}`,
    });
    shown.onclick = () => {
      window.focus();
      const path = sitePath(notification.url);
      if (path && path !== location.pathname + location.search) location.assign(path);
      shown.close();
    };
  } catch {
    // Browsers that only show notifications from a service worker (Android): the toast remains.
  }
}

function pageNotifier() {
  if (typeof window === "undefined" || typeof document === "undefined" || !("Notification" in window)) {
    return null;
  }
  let storage;
  try {
    storage = window.localStorage;
  } catch {
    return null;
  }
  const notifier = new DesktopNotifier({
    storage,
    locks: navigator.locks || null,
    tabId: crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`,
    isVisible: () => document.visibilityState === "visible",
    permission: () => Notification.permission,
    show: showDesktop,
    wait: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  });
  if (document.visibilityState === "visible") notifier.focused();
  window.addEventListener("focus", () => notifier.focused());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") notifier.focused();
  });
  window.addEventListener("pageshow", () => {
    if (document.visibilityState === "visible") notifier.focused();
  });
  window.addEventListener("pagehide", () => notifier.leaving());
  return notifier;
}

const page = pageNotifier();

/** The bell's hook: offer each live notification frame's notification. */
export function offerDesktop(notification) {
  if (page) page.offer(notification).catch(() => {});
}
