// The room's events in seq order. `Timeline` is the bookkeeping (no DOM): every
// change to a room (a new message, an edit, a deletion, a reaction) takes the
// next seq of one gap-free counter, so `contiguous` is the highest seq up to
// which no event is missing (every resume asks for ?after=contiguous). Message
// seqs are `seqs` (what is drawn), update seqs are only remembered. A hole is
// filled with `catch_up` when the server has room events (it replays messages
// and updates alike, in order), else with `history` (messages only); each
// `history` reply is matched to its request by the `before_seq` it echoes, each
// `catch_up` reply by its `after`. `MessageList` draws it into #messages:
// grouping, day separators, the "New messages" line, and keeping the reader's
// place while messages go in.

import { cloneTemplate, setText } from "./dom.js";
import { formatTime } from "./times.js";

export class Timeline {
  constructor({ contiguous = 0, hasMore = false } = {}) {
    this.seqs = []; // sorted seqs shown
    this.absent = new Set(); // seqs `history` proved gone (deleted): not holes to fill
    this.contiguous = contiguous;
    this.knownLast = contiguous;
    this.hasMore = hasMore;
    this.updates = new Set(); // seqs of `update` events seen
    this.catchUp = false; // the server has room events (and `catch_up`)
    this.requests = []; // `history` and `catch_up` requests in flight on this socket
    this.gapInFlight = false;
    this.loadingOlder = false;
  }

  // Whether nothing more is to be learnt about `seq`.
  seen(seq) {
    return this.has(seq) || this.updates.has(seq) || this.absent.has(seq);
  }

  // An `update` event's seq: returns false for one already seen (a replay).
  addUpdate(seq) {
    if (typeof seq !== "number" || this.seen(seq)) return false;
    this.updates.add(seq);
    this.learnLast(seq);
    return true;
  }

  // Where `seq` goes in `seqs` (binary search).
  indexFor(seq) {
    let low = 0;
    let high = this.seqs.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.seqs[middle] < seq) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  has(seq) {
    const index = this.indexFor(seq);
    return this.seqs[index] === seq;
  }

  // Add `seq`; returns its index, or -1 for a duplicate or no seq at all.
  add(seq) {
    if (typeof seq !== "number" || this.has(seq)) return -1;
    const index = this.indexFor(seq);
    this.seqs.splice(index, 0, seq);
    this.learnLast(seq);
    return index;
  }

  learnLast(seq) {
    this.knownLast = Math.max(this.knownLast, seq);
  }

  // Move `contiguous` over what is shown or known gone; returns whether a hole remains.
  advance() {
    while (this.seen(this.contiguous + 1)) {
      this.contiguous += 1;
    }
    return this.hasGap();
  }

  hasGap() {
    return this.knownLast > this.contiguous;
  }

  // The request for the lowest hole, or null: `catch_up` from `contiguous` when
  // the server has room events (a hole may hold updates, which `history` never
  // returns), else `history` from the hole's top down.
  gapRequest(historyMax) {
    if (this.gapInFlight || !this.hasGap()) return null;
    if (this.catchUp) return { kind: "catch_up", after: this.contiguous, upTo: this.knownLast };
    const index = this.indexFor(this.contiguous + 1);
    const nextShown = index < this.seqs.length ? this.seqs[index] : this.knownLast + 1;
    const missing = nextShown - this.contiguous - 1;
    if (missing <= 0) return null;
    return { kind: "gap", beforeSeq: nextShown, limit: Math.min(historyMax, missing) };
  }

  olderRequest(pageSize) {
    if (!this.hasMore || this.loadingOlder) return null;
    const lowest = this.seqs.length ? this.seqs[0] : this.contiguous + 1;
    return { kind: "older", beforeSeq: lowest, limit: pageSize };
  }

  // `request` went out.
  sent(request) {
    if (request.kind === "catch_up") this.requests.push({ ...request });
    else this.requests.push({ ...request, from: request.beforeSeq - request.limit, to: request.beforeSeq - 1 });
    if (request.kind === "gap" || request.kind === "catch_up") this.gapInFlight = true;
    else if (request.kind === "older") this.loadingOlder = true;
  }

  // The `catch_up` request a reply answers, by the `after` it echoes.
  takeCatchUp(after) {
    const index = this.requests.findIndex((request) => request.kind === "catch_up" && request.after === after);
    return index < 0 ? null : this.requests.splice(index, 1)[0];
  }

  // A complete `catch_up` reply holds every event past `after` that existed when
  // it was asked for: the seqs up to then that it lacks are gone. With
  // `has_more`, the rest is asked for from the last one (by the next gapRequest).
  caughtUp(request, seqs, hasMore) {
    this.gapInFlight = false;
    seqs.forEach((seq) => this.learnLast(seq));
    const top = hasMore ? Math.max(request.after, ...seqs) : Math.max(request.upTo, ...seqs);
    const returned = new Set(seqs);
    for (let seq = request.after + 1; seq <= top; seq++) {
      if (!returned.has(seq) && !this.seen(seq)) this.absent.add(seq);
    }
  }

  // The request a `history` reply (or its rate_limited refusal) answers: the one
  // with the before_seq it echoes; a server too old to echo it answers in order.
  take(beforeSeq) {
    const index = this.requests.findIndex((request) => request.kind !== "catch_up" &&
      (beforeSeq === undefined || request.beforeSeq === beforeSeq));
    return index < 0 ? null : this.requests.splice(index, 1)[0];
  }

  // The reply to `request` came with `seqs`; for a gap, the ones it lacks are gone.
  answered(request, seqs, hasMore) {
    if (request.kind === "older") {
      this.loadingOlder = false;
      this.hasMore = Boolean(hasMore);
      return;
    }
    if (request.kind !== "gap") return;
    this.gapInFlight = false;
    const returned = new Set(seqs);
    for (let seq = request.from; seq <= request.to; seq++) {
      // With room events, a seq `history` lacks may be an update's: only
      // `catch_up` can tell, so it stays a hole.
      if (!returned.has(seq) && !this.catchUp) this.absent.add(seq);
    }
  }

  abandon(request) {
    if (request.kind === "older") this.loadingOlder = false;
    else if (request.kind === "gap" || request.kind === "catch_up") this.gapInFlight = false;
  }

  // A new socket knows nothing of the old one's requests.
  forgetRequests() {
    this.requests = [];
    this.gapInFlight = false;
    this.loadingOlder = false;
  }
}

const GROUP_WITHIN_MS = 5 * 60 * 1000;
const NEAR_BOTTOM_PX = 60;
const DIVIDER_MARGIN_PX = 8;
// How much of a message must be in view to count as read.
const SEEN_HEIGHT_PX = 24;

function avatarClass(userId) {
  return `avatar avatar-${Math.abs(Number(userId) || 0) % 10}`;
}

function initial(name) {
  return (name || "?").charAt(0).toUpperCase();
}

function fillAuthor(li, user) {
  li.dataset.authorId = user.id;
  const avatar = li.querySelector(".avatar");
  avatar.className = avatarClass(user.id);
  avatar.textContent = initial(user.username);
  setText(li, ".author", user.username);
}

export function pendingMessageNode(me, body) {
  const li = cloneTemplate("pending-message-template");
  fillAuthor(li, me);
  setText(li, ".body", body);
  return li;
}

function timeOf(li) {
  const time = li.querySelector("time");
  return time ? new Date(time.getAttribute("datetime")).getTime() : 0;
}

function isConfirmed(li) {
  return Boolean(li) && li.classList.contains("message") && !li.classList.contains("pending");
}

export class MessageList {
  constructor({ list, me, timeline, firstPending }) {
    Object.assign(this, { list, me, timeline, firstPending });
    this.bySeq = new Map();
  }

  // Take over what the server rendered into the page.
  adoptServerRendered() {
    this.list.querySelectorAll("li.message[data-seq]").forEach((li) => {
      if (li.dataset.authorId === String(this.me.id)) li.classList.add("mine");
      const seq = Number(li.dataset.seq);
      this.timeline.add(seq);
      this.bySeq.set(seq, li);
    });
    this.timeline.seqs.forEach((seq) => this.regroup(this.bySeq.get(seq)));
  }

  // Add a message in seq order; returns false for one already shown.
  insert(message) {
    const index = this.timeline.add(message.seq);
    if (index < 0) return false;
    const li = this.messageNode(message);
    this.list.insertBefore(li, this.nodeAfter(message.seq, index + 1));
    this.bySeq.set(message.seq, li);
    this.regroup(li);
    this.regroup(li.nextElementSibling);
    this.removeEmptyNote();
    return true;
  }

  messageNode(message) {
    const li = cloneTemplate("message-template");
    li.dataset.seq = message.seq;
    li.dataset.id = message.id;
    fillAuthor(li, message.author);
    if (message.author.id === this.me.id) li.classList.add("mine");
    const time = li.querySelector("time");
    time.setAttribute("datetime", message.created_at);
    formatTime(time);
    setText(li, ".body", message.body);
    return li;
  }

  // The node a message goes before: the next message, the "new messages" line
  // when the message was already read, or the first pending send.
  nodeAfter(seq, nextIndex) {
    const seqs = this.timeline.seqs;
    const next = nextIndex < seqs.length ? this.bySeq.get(seqs[nextIndex]) : this.firstPending();
    const previous = next ? next.previousElementSibling : null;
    if (previous && previous.classList.contains("divider") && seq <= Number(previous.dataset.readSeq)) {
      return previous;
    }
    return next;
  }

  appendPending(li) {
    this.list.appendChild(li);
    this.removeEmptyNote();
    this.removeDivider();
    this.scrollToBottom();
  }

  // Group a message under the one before it (same author, within minutes).
  regroup(li) {
    if (!isConfirmed(li)) return;
    const previous = li.previousElementSibling;
    const grouped = isConfirmed(previous) &&
      previous.dataset.authorId === li.dataset.authorId &&
      timeOf(li) - timeOf(previous) < GROUP_WITHIN_MS;
    li.classList.toggle("grouped", grouped);
  }

  removeEmptyNote() {
    const empty = this.list.querySelector("li.empty");
    if (empty) empty.remove();
  }

  placeDivider(readSeq) {
    if (this.list.querySelector("li.divider")) return;
    const seqs = this.timeline.seqs;
    const index = this.timeline.indexFor(readSeq + 1);
    if (index >= seqs.length) return;
    const first = this.bySeq.get(seqs[index]);
    if (first.classList.contains("mine")) return;
    const divider = cloneTemplate("divider-template");
    divider.dataset.readSeq = readSeq;
    this.list.insertBefore(divider, first);
    first.classList.remove("grouped");
  }

  removeDivider() {
    const divider = this.list.querySelector("li.divider");
    if (!divider) return;
    const next = divider.nextElementSibling;
    divider.remove();
    this.regroup(next);
  }

  nearBottom() {
    return this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  // Returns how to restore the reader's place after messages go in: follow new
  // ones only from the bottom; keep the same ones in view when older go above.
  keepPlace(where) {
    if (where === "older") {
      const fromBottom = this.list.scrollHeight - this.list.scrollTop;
      return () => { this.list.scrollTop = this.list.scrollHeight - fromBottom; };
    }
    const atBottom = this.nearBottom();
    return () => { if (atBottom) this.scrollToBottom(); };
  }

  initialScroll() {
    const divider = this.list.querySelector("li.divider");
    this.scrollToBottom();
    if (divider && divider.offsetTop < this.list.scrollTop) {
      this.list.scrollTop = divider.offsetTop - DIVIDER_MARGIN_PX;
    }
  }

  highestVisibleSeq() {
    const bottom = this.list.scrollTop + this.list.clientHeight;
    const seqs = this.timeline.seqs;
    for (let i = seqs.length - 1; i >= 0; i--) {
      const li = this.bySeq.get(seqs[i]);
      if (li.offsetTop + Math.min(li.offsetHeight, SEEN_HEIGHT_PX) <= bottom + 1) return seqs[i];
    }
    return 0;
  }
}
