// Room moderation without the DOM: the pinned list as room events change it,
// and the slow-mode countdown that starts from what the server says.

// As the server cuts a pinned message's body for hello's list.
export const PIN_EXCERPT_CHARS = 140;

// What the header shows of a pinned message: hello's entry as it is, or the
// summary of a message object from an `update` frame.
export function pinSummary(message) {
  if (typeof message.excerpt === "string") return message;
  const body = message.body || "";
  const excerpt = body.length > PIN_EXCERPT_CHARS ? `${body.slice(0, PIN_EXCERPT_CHARS - 1)}…` : body;
  return { id: message.id, seq: message.seq, author: message.author, excerpt, created_at: message.created_at };
}

// The room's pinned messages, newest pin first. `hello` gives the list as of
// its `last_seq`; `update` frames (kind pin, unpin, edit, delete, reaction)
// change it after that. A frame at or below the hello's seq, or older than
// the last one applied to its message, is already in the list: ignored, so a
// resume's replayed frames never undo the newer state hello gave.
export class PinnedList {
  constructor() {
    this.reset([], 0);
  }

  reset(messages, seq) {
    this.order = messages.map((message) => message.id);
    this.messages = new Map(messages.map((message) => [message.id, pinSummary(message)]));
    this.floor = seq || 0;
    this.seen = new Map();
  }

  has(id) {
    return this.messages.has(id);
  }

  get length() {
    return this.order.length;
  }

  list() {
    return this.order.map((id) => this.messages.get(id));
  }

  // Apply an `update` frame; return whether the list changed.
  apply(frame) {
    const message = frame && frame.message;
    if (!message || typeof frame.seq !== "number") return false;
    if (frame.seq <= this.floor || frame.seq <= (this.seen.get(message.id) || 0)) return false;
    this.seen.set(message.id, frame.seq);
    if (frame.kind === "pin" && !message.deleted) {
      this.order = [message.id, ...this.order.filter((id) => id !== message.id)];
      this.messages.set(message.id, pinSummary(message));
      return true;
    }
    if (!this.messages.has(message.id)) return false;
    if (frame.kind === "unpin" || message.deleted) {
      this.order = this.order.filter((id) => id !== message.id);
      this.messages.delete(message.id);
      return true;
    }
    this.messages.set(message.id, pinSummary(message));
    return true;
  }
}

// The composer's wait in a slow-mode room. The server decides: `hello` says the
// room's slow mode and whether this user is exempt, a `slow_mode` frame changes
// it, and a refused send's `retry_after` says how long is left; after one's own
// message arrives, the whole wait starts again.
export class SlowModeClock {
  constructor(now = () => Date.now()) {
    this.now = now;
    this.seconds = 0;
    this.exempt = false;
    this.until = 0;
  }

  setMode(seconds, exempt = this.exempt) {
    this.seconds = Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
    this.exempt = Boolean(exempt);
    if (!this.seconds || this.exempt) this.until = 0;
  }

  // The server refused a send: wait what it says.
  refused(retryAfter) {
    if (Number.isFinite(retryAfter) && retryAfter > 0) this.until = this.now() + retryAfter * 1000;
  }

  // One's own message was stored at `createdAt` (ms; default now).
  sent(createdAt = this.now()) {
    if (!this.seconds || this.exempt) return;
    this.until = Math.max(this.until, Math.min(createdAt, this.now()) + this.seconds * 1000);
  }

  // Whole seconds left to wait, rounded up (0: may send).
  secondsLeft() {
    return Math.max(0, Math.ceil((this.until - this.now()) / 1000));
  }

  waiting() {
    return this.secondsLeft() > 0;
  }
}

// Fill "%(name)s" placeholders of a translated text.
export function interpolate(text, values) {
  return String(text).replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
