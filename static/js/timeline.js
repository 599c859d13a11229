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
import { reactionTitle } from "./message-state.js";
import { formatLocale, gettext } from "./i18n.js";
import { formatTime, fullTime } from "./times.js";
import { fillAttachments } from "./uploads.js";

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
const FLASH_MS = 2000;
// Inside a message, what the keyboard reaches once the message has focus.
const INNER_CONTROLS = ".act:not([hidden]), .reaction, .reply-quote:not([hidden])";
// Elements and attributes the server's sanitiser never lets through: dropped
// again here, so a mistake there can't run anything here.
const UNSAFE_ELEMENTS = "script, style, iframe, frame, object, embed, form, input, button, textarea, select, link, meta, base, svg, math, img, video, audio, source";
const SAFE_HREF = /^(https?:|mailto:|\/(?!\/)|#)/i;

let dayFormat = null;

function formatDay(date) {
  dayFormat ||= new Intl.DateTimeFormat(formatLocale(), { weekday: "long", month: "long", day: "numeric", year: "numeric" });
  return dayFormat.format(date);
}

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

export function pendingMessageNode(me, body, attachments = []) {
  const li = cloneTemplate("pending-message-template");
  fillAuthor(li, me);
  setText(li, ".body", body);
  fillAttachments(li.querySelector(".attachments"), attachments);
  return li;
}

function timeOf(li) {
  const time = li.querySelector(".meta time");
  return time ? new Date(time.getAttribute("datetime")).getTime() : 0;
}

function dayOf(li) {
  const time = timeOf(li);
  return time ? new Date(time).toDateString() : "";
}

export function dayLabel(date, today = new Date()) {
  const yesterday = new Date(today);
  yesterday.setDate(today.getDate() - 1);
  if (date.toDateString() === today.toDateString()) return gettext("Today");
  if (date.toDateString() === yesterday.toDateString()) return gettext("Yesterday");
  return formatDay(date);
}

function isConfirmed(li) {
  return Boolean(li) && li.classList.contains("message") && !li.classList.contains("pending");
}

// Put the server's sanitised HTML of a message into `body`: parsed inert in a
// <template> (nothing loads or runs while it is parsed), then moved in. The one
// place markup is parsed, and only ever the server's `html`, never `body`.
function setRichBody(body, html) {
  const template = document.createElement("template");
  template.innerHTML = html;
  const content = template.content;
  content.querySelectorAll(UNSAFE_ELEMENTS).forEach((element) => element.remove());
  content.querySelectorAll("*").forEach((element) => {
    for (const { name, value } of Array.from(element.attributes)) {
      const unsafe = name.startsWith("on") || name === "style" || name === "srcset" ||
        ((name === "href" || name === "src" || name === "action") && !SAFE_HREF.test(value.trim()));
      if (unsafe) element.removeAttribute(name);
    }
    if (element.localName === "a") {
      element.rel = "noopener noreferrer nofollow";
      element.target = "_blank";
    }
  });
  body.replaceChildren(content);
  body.classList.add("rich");
}

// What the page knows of a message the server rendered (body text only).
function stateFromNode(li) {
  return {
    id: Number(li.dataset.id),
    seq: Number(li.dataset.seq),
    author: { id: Number(li.dataset.authorId), username: li.querySelector(".author").textContent },
    body: li.querySelector(".body").textContent,
    created_at: li.querySelector(".meta time").getAttribute("datetime"),
    reply_to: null,
    edited_at: null,
    deleted: false,
    reactions: [],
  };
}

export class MessageList {
  // `names` maps user ids to names (who reacted); `moderator`: may delete any message.
  constructor({ list, me, timeline, firstPending, names = new Map(), moderator = false }) {
    Object.assign(this, { list, me, timeline, firstPending, names, moderator });
    this.bySeq = new Map();
    this.byId = new Map(); // message id -> its current state
  }

  // Take over what the server rendered into the page.
  adoptServerRendered() {
    this.list.querySelectorAll("li.message[data-seq]").forEach((li) => {
      if (li.dataset.authorId === String(this.me.id)) li.classList.add("mine");
      const seq = Number(li.dataset.seq);
      this.timeline.add(seq);
      this.bySeq.set(seq, li);
      const message = stateFromNode(li);
      this.names.set(message.author.id, message.author.username);
      this.byId.set(message.id, message);
      this.fillState(li, message);
    });
    this.timeline.seqs.forEach((seq) => this.regroup(this.bySeq.get(seq)));
  }

  // Add a message in seq order; returns false for one already shown.
  insert(message) {
    const index = this.timeline.add(message.seq);
    if (index < 0) return false;
    const li = this.messageNode(message);
    const next = this.nodeAfter(message.seq, index + 1);
    this.list.insertBefore(li, next);
    this.bySeq.set(message.seq, li);
    // A message past the read position goes under the "New messages" line.
    const divider = next && next.querySelector(":scope > .divider");
    if (divider && message.seq > Number(divider.dataset.readSeq)) this.moveDivider(divider, li);
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
    const time = li.querySelector(".meta time");
    time.setAttribute("datetime", message.created_at);
    formatTime(time);
    this.fill(li, message);
    return li;
  }

  // Draw `message`'s current state into its node.
  fill(li, message) {
    this.names.set(message.author.id, message.author.username);
    this.byId.set(message.id, message);
    const body = li.querySelector(".body");
    body.classList.remove("rich");
    if (message.deleted) {
      body.textContent = gettext("message deleted");
    } else if (typeof message.html === "string") {
      setRichBody(body, message.html);
    } else {
      body.textContent = message.body;
    }
    li.classList.toggle("deleted", Boolean(message.deleted));
    fillAttachments(li.querySelector(".attachments"), message.deleted ? [] : message.attachments);
    this.fillReply(li, message.reply_to);
    this.fillEdited(li, message);
    this.fillReactions(li, message);
    this.fillState(li, message);
  }

  // What depends on the state only: mentions of me, and the actions allowed.
  fillState(li, message) {
    let mentionsMe = false;
    li.querySelectorAll(".body .mention[data-user-id]").forEach((mention) => {
      const me = mention.dataset.userId === String(this.me.id);
      mention.classList.toggle("me", me);
      mentionsMe ||= me;
    });
    li.classList.toggle("mentions-me", mentionsMe);
    const mine = message.author.id === this.me.id;
    li.querySelector(".act-edit").hidden = message.deleted || !mine;
    li.querySelector(".act-delete").hidden = message.deleted || !(mine || this.moderator);
    li.querySelector(".act-reply").hidden = Boolean(message.deleted);
    li.querySelector(".act-react").hidden = Boolean(message.deleted);
    this.setTabbable(li, li.contains(document.activeElement));
  }

  fillReply(li, replyTo) {
    const quote = li.querySelector(".reply-quote");
    if (!replyTo) {
      quote.hidden = true;
      return;
    }
    quote.hidden = false;
    quote.dataset.seq = replyTo.seq;
    quote.dataset.id = replyTo.id;
    quote.classList.toggle("gone", Boolean(replyTo.deleted));
    const author = replyTo.deleted || !replyTo.author ? "" : replyTo.author.username;
    setText(quote, ".reply-author", author);
    const text = replyTo.deleted ? gettext("deleted message") : (replyTo.excerpt || "").replace(/\s+/g, " ").trim();
    setText(quote, ".reply-excerpt", text);
    quote.setAttribute("aria-label", replyTo.deleted
      ? gettext("Reply to a deleted message")
      : gettext("Reply to %(name)s: %(text)s. Show the original", { name: author, text }));
  }

  fillEdited(li, message) {
    const edited = li.querySelector(".edited");
    edited.hidden = !message.edited_at || Boolean(message.deleted);
    if (message.edited_at) {
      const date = new Date(message.edited_at);
      edited.title = Number.isNaN(date.getTime()) ? gettext("Edited") : gettext("Edited %(time)s", { time: fullTime(date) });
    }
  }

  fillReactions(li, message) {
    const box = li.querySelector(".reactions");
    const reactions = message.deleted ? [] : (message.reactions || []);
    box.replaceChildren();
    box.hidden = !reactions.length;
    const tabbable = li.contains(document.activeElement);
    reactions.forEach((reaction) => {
      const chip = cloneTemplate("reaction-template");
      const mine = reaction.user_ids.includes(this.me.id);
      chip.dataset.emoji = reaction.emoji;
      chip.setAttribute("aria-pressed", String(mine));
      setText(chip, ".emoji", reaction.emoji);
      setText(chip, ".count", String(reaction.count));
      const who = reactionTitle(reaction, this.names, this.me.id);
      chip.title = gettext("%(who)s reacted with %(emoji)s", { who, emoji: reaction.emoji });
      chip.setAttribute("aria-label", `${reaction.emoji} ${reaction.count}: ${who}`);
      chip.tabIndex = tabbable ? 0 : -1;
      box.appendChild(chip);
    });
  }

  // Only the message with focus has its controls in the Tab order.
  setTabbable(li, on) {
    li.querySelectorAll(INNER_CONTROLS).forEach((control) => { control.tabIndex = on ? 0 : -1; });
  }

  // A changed message (an `update`, or a `history` reply in the current state).
  update(message) {
    const li = this.bySeq.get(message.seq);
    if (!li || li.dataset.id !== String(message.id)) return false;
    const restore = this.keepPlace("live");
    this.fill(li, message);
    restore();
    return true;
  }

  stateOf(li) {
    return li ? this.byId.get(Number(li.dataset.id)) || null : null;
  }

  // The node a message goes before: the next message, or the first pending send.
  nodeAfter(seq, nextIndex) {
    const seqs = this.timeline.seqs;
    return nextIndex < seqs.length ? this.bySeq.get(seqs[nextIndex]) : this.firstPending();
  }

  appendPending(li) {
    this.list.appendChild(li);
    this.removeEmptyNote();
    this.removeDivider();
    this.scrollToBottom();
  }

  // Group a message under the one before it (same author, same day, within
  // minutes, no line between them), and start each day with its date.
  regroup(li) {
    if (!isConfirmed(li)) return;
    let previous = li.previousElementSibling;
    while (previous && !isConfirmed(previous) && !previous.classList.contains("pending")) {
      previous = previous.previousElementSibling;
    }
    const newDay = !isConfirmed(previous) || dayOf(previous) !== dayOf(li);
    this.setDay(li, newDay);
    const grouped = !newDay && isConfirmed(previous) &&
      !li.querySelector(":scope > .divider") &&
      previous.dataset.authorId === li.dataset.authorId &&
      timeOf(li) - timeOf(previous) < GROUP_WITHIN_MS;
    li.classList.toggle("grouped", grouped);
  }

  setDay(li, on) {
    let day = li.querySelector(":scope > .day");
    if (!on || !timeOf(li)) {
      if (day) day.remove();
      return;
    }
    if (!day) {
      day = cloneTemplate("day-template");
      li.prepend(day);
    }
    const label = dayLabel(new Date(timeOf(li)));
    day.setAttribute("aria-label", label);
    setText(day, "span", label);
  }

  removeEmptyNote() {
    const empty = this.list.querySelector("li.empty");
    if (empty) empty.remove();
  }

  // The "New messages" line above the first message past `readSeq` (none when
  // that one is mine); `replace` moves a line already shown.
  placeDivider(readSeq, replace = false) {
    const existing = this.list.querySelector(".divider");
    if (existing && !replace) return;
    const seqs = this.timeline.seqs;
    const index = this.timeline.indexFor(readSeq + 1);
    if (index >= seqs.length) return;
    const first = this.bySeq.get(seqs[index]);
    if (first.classList.contains("mine")) return;
    const divider = existing || cloneTemplate("divider-template");
    divider.dataset.readSeq = readSeq;
    this.moveDivider(divider, first);
  }

  moveDivider(divider, li) {
    const from = divider.parentElement;
    const day = li.querySelector(":scope > .day");
    if (day) day.after(divider);
    else li.prepend(divider);
    li.classList.add("first-unread");
    if (from && from !== li) {
      from.classList.remove("first-unread");
      this.regroup(from);
    }
    this.regroup(li);
  }

  dividerNode() {
    const divider = this.list.querySelector(".divider");
    return divider ? divider.closest("li") : null;
  }

  removeDivider() {
    const li = this.dividerNode();
    if (!li) return;
    li.querySelector(":scope > .divider").remove();
    li.classList.remove("first-unread");
    this.regroup(li);
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

  scrollToDivider() {
    const li = this.dividerNode();
    if (li) this.list.scrollTop = li.offsetTop - DIVIDER_MARGIN_PX;
  }

  initialScroll() {
    const li = this.dividerNode();
    this.scrollToBottom();
    if (li && li.offsetTop < this.list.scrollTop) this.scrollToDivider();
  }

  // Whether the "New messages" line is above what is in view.
  dividerAbove() {
    const li = this.dividerNode();
    return Boolean(li) && li.offsetTop < this.list.scrollTop;
  }

  // Show the message `seq` (centred, highlighted a moment) and give it focus.
  reveal(seq) {
    const li = this.bySeq.get(seq);
    if (!li) return false;
    li.scrollIntoView({ block: "center" });
    li.classList.add("flash");
    setTimeout(() => li.classList.remove("flash"), FLASH_MS);
    li.focus({ preventScroll: true });
    return true;
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
