// Sends waiting for their echo, by client_id. Each goes out again, with the same
// client_id, on every new socket until its `message` echo arrives (the server
// never stores one twice). A `rate_limited` refusal pauses the outbox for the
// `retry_after` the server names; after the pause the unsent ones go one at a
// time (the next once the previous is echoed), as the limit frees slots one by
// one: a batch would be refused again and could come back out of order.

// When a rate_limited error names no retry_after.
const RATE_LIMIT_WAIT_MS = 5000;
const RATE_LIMIT_WAIT_MAX_MS = 60000;
// A little past retry_after, spread out, so tabs sharing a limit don't retry at once.
const RATE_LIMIT_MARGIN_MS = 100;
const RATE_LIMIT_SPREAD_MS = 200;

// Milliseconds to wait for the `retry_after` seconds a rate_limited error names.
export function rateLimitWait(retryAfter, random = Math.random) {
  const known = typeof retryAfter === "number" && Number.isFinite(retryAfter) && retryAfter >= 0;
  const wait = known ? retryAfter * 1000 : RATE_LIMIT_WAIT_MS;
  return Math.min(RATE_LIMIT_WAIT_MAX_MS, wait) + RATE_LIMIT_MARGIN_MS +
    Math.round(random() * RATE_LIMIT_SPREAD_MS);
}

export function newClientId() {
  // randomUUID exists only on secure (HTTPS or localhost) pages.
  if (crypto.randomUUID) return `c-${crypto.randomUUID()}`;
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `c-${Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

export class Outbox {
  constructor({ now = () => Date.now(), random = Math.random } = {}) {
    this.now = now;
    this.random = random;
    this.items = [];
    this.pausedUntil = 0;
    this.oneByOne = false;
  }

  get length() {
    return this.items.length;
  }

  add(body, clientId = newClientId()) {
    const item = { clientId, body, sentOn: null };
    this.items.push(item);
    return item;
  }

  find(clientId) {
    return this.items.find((item) => item.clientId === clientId) || null;
  }

  remove(item) {
    const index = this.items.indexOf(item);
    if (index >= 0) this.items.splice(index, 1);
  }

  // The echo of one of ours arrived: returns the item it confirms, or null.
  confirm(clientId) {
    const item = clientId ? this.find(clientId) : null;
    if (item) this.remove(item);
    return item;
  }

  get paused() {
    return this.now() < this.pausedUntil;
  }

  get secondsLeft() {
    return Math.max(1, Math.ceil((this.pausedUntil - this.now()) / 1000));
  }

  // Send, oldest first, every item not yet sent on socket `generation` through
  // `send(item)` (false: not connected). Nothing while paused: a later message
  // must not overtake a refused one.
  flush(generation, send) {
    if (this.paused) return;
    if (!this.items.length) this.oneByOne = false;
    for (const item of this.items) {
      if (item.sentOn === generation) {
        if (this.oneByOne) return;
        continue;
      }
      if (!send(item)) return;
      item.sentOn = generation;
      if (this.oneByOne) return;
    }
  }

  // The server refused `item` for a while. Returns the milliseconds to wait before
  // resume() when this pause ends later than the one already running, else null.
  refuse(item, retryAfter) {
    item.sentOn = null;
    const wait = rateLimitWait(retryAfter, this.random);
    const until = this.now() + wait;
    if (until <= this.pausedUntil) return null;
    this.pausedUntil = until;
    return wait;
  }

  resume() {
    this.oneByOne = true;
  }

  unsentOn(generation) {
    return this.items.filter((item) => item.sentOn !== generation);
  }
}
