// The room page (wire contract: docs/protocol.md, /ws/chat/<slug>/): wires the
// socket to the timeline, the outbox, presence, typing and the composer, and the
// message actions (reply, react, edit, delete) to their frames.
//
// #connection's data-state: connecting, connected (after hello), waiting ("Reconnecting
// in N s", "Offline · retrying in N s"; #retry connects at once) or gone (signed
// out, or no access to the room any more).

import { clientConfig, readJson } from "./config.js";
import { Composer } from "./composer.js";
import { cloneTemplate } from "./dom.js";
import { completeMention, mentionMatches, mentionQuery, moveActive } from "./mentions.js";
import { COMMON_EMOJI, ComposerMode, excerpt, MessageStates, reactFrame } from "./message-state.js";
import { Outbox, rateLimitWait } from "./outbox.js";
import { Presence } from "./presence.js";
import { ReconnectingSocket } from "./socket.js";
import { gettext } from "./i18n.js";
import { formatAllTimes } from "./times.js";
import { MessageList, pendingMessageNode, Timeline } from "./timeline.js";
import { TypingIndicator, TypingThrottle } from "./typing.js";
import { readUploadTexts, Uploader } from "./uploads.js";

// Live frames may arrive out of seq order for a moment: wait before filling a hole.
const GAP_GRACE_MS = 800;
const READ_DELAY_MS = 300;
const LOAD_OLDER_WITHIN_PX = 80;
// At most this many `history` pages back to reach the first unread message.
const UNREAD_PAGES_MAX = 20;
const LONG_PRESS_MS = 500;
const MODE_EXCERPT_CHARS = 80;

const room = readJson("room-config");
const me = room.user;

const el = {
  room: document.getElementById("room"),
  list: document.getElementById("messages"),
  older: document.getElementById("load-older"),
  connection: document.getElementById("connection"),
  retry: document.getElementById("retry"),
  body: document.getElementById("composer-body"),
  mentions: document.getElementById("mention-list"),
  modeBar: document.getElementById("composer-mode"),
  modeText: document.getElementById("composer-mode-text"),
  modeExcerpt: document.getElementById("composer-mode-excerpt"),
  modeCancel: document.getElementById("composer-mode-cancel"),
  jumpUnread: document.getElementById("jump-unread"),
  jumpLatest: document.getElementById("jump-latest"),
  picker: document.getElementById("emoji-picker"),
  deleteDialog: document.getElementById("delete-dialog"),
};

let phase = "connecting";
let readSent = room.lastReadSeq || 0;
let readTimer = null;
let gapTimer = null;
let countdownTimer = null;
let outboxTimer = null;
let pausedTimer = null;
let firstHello = true;
// Older pages still to load to reach the first unread message, and the message
// a click on a reply's quote waits for.
let unreadPagesLeft = 0;
let jumpTarget = null;
let deleting = null;

const firstUnreadReadSeq = room.lastReadSeq || 0;
const names = new Map(); // user id -> name, for who reacted
document.querySelectorAll("#members li[data-user-id]").forEach((li) => {
  names.set(Number(li.dataset.userId), li.querySelector(".name").textContent);
});
const states = new MessageStates();
const mode = new ComposerMode();

const timeline = new Timeline({ contiguous: room.lastSeq || 0, hasMore: room.hasMore });
const outbox = new Outbox();
const messages = new MessageList({
  list: el.list,
  me,
  timeline,
  firstPending: () => (outbox.length ? outbox.items[0].node : null),
  names,
  moderator: el.room.hasAttribute("data-moderator"),
});
const presence = new Presence({
  members: document.getElementById("members"),
  counter: document.getElementById("online-count"),
});
const typingIntervalMs = clientConfig.CHAT_TYPING_INTERVAL * 1000;
const typing = new TypingIndicator(document.getElementById("typing"), typingIntervalMs);
const typingThrottle = new TypingThrottle(typingIntervalMs);
const uploadTexts = readUploadTexts(document.getElementById("upload-texts"));
const uploader = new Uploader({
  url: room.uploadUrl,
  input: document.getElementById("attach-input"),
  button: document.getElementById("attach"),
  list: document.getElementById("uploads"),
  dropZone: document.querySelector("#room .chat"),
  pasteTarget: el.body,
  limits: { maxBytes: clientConfig.CHAT_MAX_UPLOAD_BYTES, maxCount: clientConfig.CHAT_MAX_ATTACHMENTS },
  texts: uploadTexts,
  showError: (text) => composer.showError(text),
});
const composer = new Composer({
  form: document.getElementById("composer"),
  body: el.body,
  error: document.getElementById("composer-error"),
  counter: document.getElementById("composer-count"),
  limits: { maxChars: clientConfig.CHAT_MAX_BODY_CHARS, maxFrameBytes: clientConfig.REALTIME_MAX_FRAME_BYTES },
  onMessage: submitText,
  onKey: composerKey,
  onInput: showMentions,
  canSendEmpty: () => mode.kind !== "edit" && uploader.hasFiles,
  onTyping: () => {
    if (typingThrottle.due() && send({ type: "typing" })) typingThrottle.sent();
  },
});

const socket = new ReconnectingSocket({
  url: () => {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return `${scheme}${location.host}/ws/chat/${encodeURIComponent(room.slug)}/?after=${timeline.contiguous}`;
  },
  pingIntervalMs: clientConfig.REALTIME_PING_INTERVAL * 1000,
  pongTimeoutMs: clientConfig.REALTIME_PONG_TIMEOUT * 1000,
  onConnecting: () => {
    timeline.forgetRequests();
    setPhase("connecting");
  },
  onFrame: (frame) => {
    if (Object.hasOwn(handlers, frame.type)) handlers[frame.type](frame);
    // Modules beside this one hear the room's socket too (seen-by.js).
    document.dispatchEvent(new CustomEvent("room:frame", { detail: frame }));
  },
  onClose,
  onWaiting: () => setPhase("waiting"),
});

// Frames go out only once the server said hello: before that it may still refuse us.
function send(frame) {
  return phase === "connected" && socket.send(frame);
}
// Modules beside this one send on the room's socket too (moderation.js).
document.addEventListener("room:send", (event) => {
  event.detail.sent = send(event.detail.frame);
});

// ---- Connection status --------------------------------------------------------

function setPhase(next, text = "") {
  phase = next;
  clearInterval(countdownTimer);
  el.connection.dataset.state = next;
  el.retry.hidden = next !== "waiting";
  presence.stale(next !== "connected");
  if (next === "connecting") el.connection.textContent = gettext("Connecting…");
  else if (next === "connected") el.connection.textContent = gettext("Connected");
  else if (next === "waiting") {
    showWaiting();
    countdownTimer = setInterval(showWaiting, 1000);
  } else el.connection.textContent = text;
}

function showWaiting() {
  if (phase !== "waiting") return;
  const seconds = Math.max(0, Math.ceil((socket.retryAt - Date.now()) / 1000));
  const offline = navigator.onLine === false;
  el.connection.dataset.state = offline ? "offline" : "waiting";
  el.connection.textContent = offline
    ? gettext("Offline · retrying in %(seconds)s s", { seconds })
    : gettext("Reconnecting in %(seconds)s s", { seconds });
}

function onClose(code, decision) {
  if (decision.reason === "signed-out") {
    setPhase("gone", gettext("Signed out: taking you to the login page…"));
    const login = el.room.dataset.loginUrl;
    location.assign(`${login}?next=${encodeURIComponent(location.pathname)}`);
  } else if (decision.reason === "no-access") {
    setPhase("gone", gettext("You no longer have access to this room."));
    composer.close(gettext("You no longer have access to this room."));
  } else if (decision.reason === "too-large") {
    composer.showError(gettext("The server closed the connection: a frame was too large."));
  } else if (decision.reason === "flooding") {
    composer.showError(gettext("Too many messages too fast: the server paused you for a moment."));
  }
}

// ---- Frames from the server ----------------------------------------------------

const handlers = {
  hello: onHello,
  message: (frame) => addMessages([frame.message], "live"),
  update: onUpdate,
  history: onHistory,
  catch_up: onCatchUp,
  typing: (frame) => {
    if (frame.user && frame.user.id !== me.id) typing.show(frame.user);
  },
  presence: (frame) => presence.show(frame.online || [], frame.online_count),
  error: onError,
};

function onHello(frame) {
  if ((frame.last_seq || 0) < timeline.contiguous) {
    // The room has fewer messages than this page shows (data was reset): start over.
    location.reload();
    return;
  }
  socket.established();
  setPhase("connected");
  // With `truncated`, hello holds only the newest of what was missed: the hole
  // below them is paged back by the gap filler.
  timeline.learnLast(frame.last_seq || 0);
  addMessages(frame.messages || [], "live");
  presence.show(frame.online || [], frame.online_count);
  flushOutbox();
  scheduleGapFill();
  scheduleRead();
  if (firstHello) {
    firstHello = false;
    refreshRendered();
    if (unreadPagesLeft) loadOlder();
  }
}

// The page was drawn from message bodies only: ask once for the same messages
// in their current state (html, reply, edits, reactions) to draw them in place.
function refreshRendered() {
  const seqs = timeline.seqs.filter((seq) => seq <= room.lastSeq);
  if (!seqs.length) return;
  requestHistory({ kind: "refresh", beforeSeq: room.lastSeq + 1, limit: Math.min(seqs.length, clientConfig.CHAT_HISTORY_MAX) });
}

// An edit, a deletion or a reaction: the message's whole state, in place.
function onUpdate(frame) {
  const restorePlace = messages.keepPlace("live");
  applyUpdate(frame);
  if (timeline.advance()) scheduleGapFill();
  restorePlace();
}

function applyUpdate(frame) {
  timeline.catchUp = true;
  if (!timeline.addUpdate(frame.seq) && typeof frame.seq === "number") return;
  const message = frame.message;
  if (!message || !states.accept(message.id, frame.seq)) return;
  messages.update(message);
  const kind = mode.kind;
  mode.changed(message);
  if (mode.kind !== kind) {
    showMode();
    composer.showError(kind === "edit" ? gettext("The message you were editing was deleted.") : gettext("The message you were replying to was deleted."));
  }
  if (message.deleted) {
    // Replies to it quote a deleted message now.
    el.list.querySelectorAll(`.reply-quote[data-id="${Number(message.id)}"]`).forEach((quote) => {
      messages.fillReply(quote.closest("li"), { id: message.id, seq: message.seq, deleted: true });
    });
  }
}

// Every event past `after`, in order: messages and updates alike.
function onCatchUp(frame) {
  const request = timeline.takeCatchUp(frame.after);
  const restorePlace = messages.keepPlace("live");
  const seqs = [];
  let added = 0;
  (frame.events || []).forEach((event) => {
    if (event.type === "message" && event.message) {
      seqs.push(event.message.seq);
      if (addMessage(event.message)) added += 1;
    } else if (event.type === "update") {
      seqs.push(event.seq);
      applyUpdate(event);
    }
  });
  if (request) timeline.caughtUp(request, seqs, frame.has_more);
  timeline.advance();
  restorePlace();
  if (added) afterAdded();
  if (request && frame.has_more) requestHistory(timeline.gapRequest(clientConfig.CHAT_HISTORY_MAX));
  else scheduleGapFill();
}

function onHistory(frame) {
  const request = timeline.take(frame.before_seq);
  const batch = frame.messages || [];
  if (!request) {
    // Not asked for on this socket: keep what it holds, draw no conclusions.
    addMessages(batch, "live");
    return;
  }
  timeline.answered(request, batch.map((message) => message.seq), frame.has_more);
  if (request.kind === "older") {
    addMessages(batch, "older");
    showOlderButton();
    continueToUnread();
    if (jumpTarget !== null) {
      const seq = jumpTarget;
      jumpTarget = null;
      jumpTo(seq);
    }
  } else if (request.kind === "refresh") {
    addMessages(batch, "live");
  } else {
    addMessages(batch, "live");
    scheduleGapFill();
  }
}

function onError(frame) {
  if (frame.code === "rate_limited" && "before_seq" in frame) {
    retryHistory(frame);
    return;
  }
  if ("message_id" in frame && !frame.client_id) {
    // An edit, a deletion or a reaction the server refused: nothing changed.
    const reasons = {
      not_found: gettext("That message no longer exists."),
      forbidden: gettext("You can't change that message."),
    };
    composer.showError(frame.detail || reasons[frame.code] || gettext("That change was not made."));
    return;
  }
  const item = frame.client_id ? outbox.find(frame.client_id) : null;
  if (item && frame.code === "rate_limited") {
    // Goes again, then everything after it, once retry_after has passed; the
    // server refuses what this socket sent right behind it too, so order holds.
    pauseOutbox(item, frame.retry_after);
    return;
  }
  if (item) {
    // The server will never take this one: drop it and give the text back.
    outbox.remove(item);
    item.node.remove();
    composer.restore(item.body);
    // Files of a send refused for another reason than them wait for the next one.
    if (item.attachments.length && frame.code !== "not_found") uploader.restore(item.attachments);
  }
  composer.showError(frame.detail || gettext("Something went wrong."));
}

// ---- Messages ---------------------------------------------------------------------

function addMessage(message) {
  // Only a server with room events renders `html`: it answers `catch_up`.
  if (typeof message.html === "string") timeline.catchUp = true;
  const mine = message.author.id === me.id && outbox.confirm(message.client_id);
  if (mine) {
    mine.node.remove();
    if (outbox.oneByOne) flushOutbox();
  }
  if (!messages.insert(message)) {
    // Already shown: a `history` reply holds its current state.
    if (typeof message.html === "string" && !states.seqs.has(message.id)) messages.update(message);
    return false;
  }
  typing.clear(message.author.id);
  return true;
}

// Add a batch, keeping the reader's place, then look for holes.
function addMessages(batch, where) {
  const restorePlace = messages.keepPlace(where);
  const added = batch.filter(addMessage).length;
  if (timeline.advance()) scheduleGapFill();
  restorePlace();
  if (added) afterAdded();
}

function afterAdded() {
  if (!seeing()) messages.placeDivider(readSent);
  scheduleRead();
  showJumps();
}

function scheduleGapFill() {
  if (gapTimer || !timeline.hasGap()) return;
  gapTimer = setTimeout(() => {
    gapTimer = null;
    if (phase === "connected") requestHistory(timeline.gapRequest(clientConfig.CHAT_HISTORY_MAX));
  }, GAP_GRACE_MS);
}

function loadOlder() {
  if (phase !== "connected") return;
  if (requestHistory(timeline.olderRequest(clientConfig.CHAT_HISTORY_PAGE)) && el.older) {
    el.older.textContent = gettext("Loading…");
  }
}

function requestHistory(request) {
  if (!request) return false;
  const frame = request.kind === "catch_up"
    ? { type: "catch_up", after: request.after }
    : { type: "history", before_seq: request.beforeSeq, limit: request.limit };
  if (!send(frame)) return false;
  timeline.sent(request);
  return true;
}

// A `history` request refused by the rate limit: the same request again on the
// same socket once retry_after has passed (a new socket's hello fills afresh).
function retryHistory(frame) {
  const request = timeline.take(frame.before_seq);
  if (!request) return;
  const generation = socket.generation;
  setTimeout(() => {
    if (socket.generation !== generation) return;
    timeline.abandon(request);
    if (requestHistory(request)) return;
    if (request.kind === "older") showOlderButton();
  }, rateLimitWait(frame.retry_after));
}

function showOlderButton() {
  if (!el.older) return;
  el.older.textContent = gettext("Load older messages");
  el.older.closest("li").hidden = !timeline.hasMore;
}

// ---- Outbox -----------------------------------------------------------------------

// The composer's text: a new message, a reply, or an edit. Returns false to
// keep the text in the box.
function submitText(text) {
  if (mode.kind === "edit") {
    const target = mode.target;
    if (text !== target.body && !send({ type: "edit", message_id: target.id, body: text })) {
      composer.showError(gettext("Not connected: your edit is not saved yet. Try again once connected."));
      return false;
    }
    endMode();
    return true;
  }
  if (uploader.busy) {
    composer.showError(uploadTexts.wait);
    return false;
  }
  queueMessage(text, mode.kind === "reply" ? mode.target.id : null, uploader.take());
  endMode();
  return true;
}

function queueMessage(body, replyTo = null, attachments = []) {
  const item = outbox.add(body);
  item.replyTo = replyTo;
  item.attachments = attachments;
  item.node = pendingMessageNode(me, body, attachments);
  messages.appendPending(item.node);
  // The server stops showing us as typing with the message: say so again at once.
  typingThrottle.reset();
  flushOutbox();
}

function flushOutbox() {
  if (outbox.paused) {
    showPaused();
    return;
  }
  outbox.flush(socket.generation, (item) => {
    const frame = { type: "send", body: item.body, client_id: item.clientId };
    if (item.replyTo) frame.reply_to = item.replyTo;
    if (item.attachments.length) frame.attachment_ids = item.attachments.map((attachment) => attachment.id);
    if (!send(frame)) return false;
    setPendingStatus(item, gettext("sending…"));
    return true;
  });
}

function pauseOutbox(item, retryAfter) {
  const wait = outbox.refuse(item, retryAfter);
  if (wait !== null) {
    clearTimeout(outboxTimer);
    outboxTimer = setTimeout(() => {
      composer.hideError();
      outbox.resume();
      flushOutbox();
    }, wait);
  }
  showPaused();
}

// Say why the unsent items wait, on them and under the composer, counting down.
function showPaused() {
  outbox.unsentOn(socket.generation).forEach((item) => setPendingStatus(item, gettext("waiting…")));
  composer.showError(`Sending too fast: sending again in ${outbox.secondsLeft} s.`, true);
  if (pausedTimer) return;
  pausedTimer = setInterval(() => {
    if (outbox.paused) {
      composer.showError(`Sending too fast: sending again in ${outbox.secondsLeft} s.`, true);
      return;
    }
    clearInterval(pausedTimer);
    pausedTimer = null;
  }, 1000);
}

function setPendingStatus(item, text) {
  item.node.querySelector(".status").textContent = text;
}

// ---- Reading: the first unread, jumps, replies' originals -------------------------

function unreadAboveLoaded() {
  const seqs = timeline.seqs;
  return firstUnreadReadSeq < timeline.contiguous && timeline.hasMore &&
    seqs.length > 0 && seqs[0] > firstUnreadReadSeq + 1;
}

// Page back until the first unread message is loaded, then show it.
function continueToUnread() {
  if (!unreadPagesLeft) return;
  unreadPagesLeft -= 1;
  messages.placeDivider(firstUnreadReadSeq, true);
  if (unreadPagesLeft && unreadAboveLoaded()) {
    loadOlder();
    return;
  }
  unreadPagesLeft = 0;
  messages.scrollToDivider();
  showJumps();
}

// Show message `seq` (a reply's original), loading older pages as needed.
function jumpTo(seq) {
  if (messages.reveal(seq)) return;
  const lowest = timeline.seqs.length ? timeline.seqs[0] : Infinity;
  if (!timeline.hasMore || lowest < seq) {
    composer.showError(gettext("The original message is not in this room's history any more."));
    return;
  }
  jumpTarget = seq;
  loadOlder();
}

function showJumps() {
  el.jumpLatest.hidden = messages.nearBottom();
  el.jumpUnread.hidden = !messages.dividerAbove();
}

// ---- Message actions ----------------------------------------------------------------

function showMode() {
  el.modeBar.hidden = mode.kind === "new";
  el.modeBar.dataset.kind = mode.kind;
  el.modeText.textContent = mode.label();
  el.modeExcerpt.textContent = mode.kind === "reply"
    ? `: ${excerpt(mode.target.deleted ? "" : mode.target.body, MODE_EXCERPT_CHARS)}`
    : "";
}

function startReply(message) {
  if (mode.kind === "edit") composer.setText("");
  mode.reply(message);
  showMode();
  el.body.focus();
}

function startEdit(message) {
  mode.edit(message);
  showMode();
  composer.setText(message.body);
}

function endMode() {
  mode.cancel();
  showMode();
}

function cancelMode() {
  const wasEdit = mode.kind === "edit";
  endMode();
  if (wasEdit) composer.setText("");
  el.body.focus();
}

function react(message, emoji) {
  if (!send(reactFrame(message, emoji, me.id))) composer.showError(gettext("Not connected: try again once connected."));
}

function confirmDelete(message) {
  deleting = message;
  el.deleteDialog.returnValue = "";
  el.deleteDialog.showModal();
}

el.deleteDialog.addEventListener("close", () => {
  const message = deleting;
  deleting = null;
  if (!message) return;
  if (el.deleteDialog.returnValue === "delete") {
    if (!send({ type: "delete", message_id: message.id })) composer.showError(gettext("Not connected: nothing was deleted."));
  }
  const li = messages.bySeq.get(message.seq);
  if (li) li.focus();
});

// The emoji picker: one for the page, opened under a message's react button.
let pickerFor = null;
COMMON_EMOJI.forEach((emoji) => {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "pick";
  button.setAttribute("role", "menuitem");
  button.dataset.emoji = emoji;
  button.textContent = emoji;
  button.setAttribute("aria-label", gettext("React with %(emoji)s", { emoji }));
  el.picker.appendChild(button);
});

function openPicker(li, opener) {
  closePicker();
  pickerFor = { li, opener };
  opener.setAttribute("aria-expanded", "true");
  li.appendChild(el.picker);
  el.picker.hidden = false;
  el.picker.querySelector("button").focus();
}

function closePicker(returnFocus = false) {
  if (!pickerFor) return;
  const { opener } = pickerFor;
  pickerFor = null;
  opener.setAttribute("aria-expanded", "false");
  el.picker.hidden = true;
  document.body.appendChild(el.picker);
  if (returnFocus) opener.focus();
}

el.picker.addEventListener("click", (event) => {
  const button = event.target.closest("button.pick");
  if (!button || !pickerFor) return;
  const message = messages.stateOf(pickerFor.li);
  closePicker(true);
  if (message) react(message, button.dataset.emoji);
});

el.picker.addEventListener("keydown", (event) => {
  const buttons = Array.from(el.picker.querySelectorAll("button.pick"));
  const index = buttons.indexOf(document.activeElement);
  const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
  if (event.key === "Escape" || event.key === "Tab") {
    event.preventDefault();
    event.stopPropagation();
    closePicker(true);
  } else if (event.key in moves) {
    event.preventDefault();
    event.stopPropagation();
    buttons[moveActive(index, moves[event.key], buttons.length)].focus();
  }
});

document.addEventListener("click", (event) => {
  if (pickerFor && !el.picker.contains(event.target) && !event.target.closest(".act-react")) closePicker();
  if (!event.target.closest("li.show-actions")) {
    el.list.querySelectorAll("li.show-actions").forEach((li) => li.classList.remove("show-actions"));
  }
});

el.list.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button || el.picker.contains(button)) return;
  const li = button.closest("li.message");
  const message = messages.stateOf(li);
  if (!message) return;
  if (button.classList.contains("act-reply")) startReply(message);
  else if (button.classList.contains("act-edit")) startEdit(message);
  else if (button.classList.contains("act-delete")) confirmDelete(message);
  else if (button.classList.contains("act-react")) {
    if (pickerFor && pickerFor.opener === button) closePicker(true);
    else openPicker(li, button);
  } else if (button.classList.contains("reaction")) react(message, button.dataset.emoji);
  else if (button.classList.contains("reply-quote")) jumpTo(Number(button.dataset.seq));
});

// Arrow keys move between messages; the one with focus shows its actions and
// has them (and its reactions) in the Tab order.
el.list.addEventListener("keydown", (event) => {
  if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
  const current = event.target.closest("li.message");
  if (event.target !== el.list && event.target !== current) return;
  const items = Array.from(el.list.querySelectorAll("li.message:not(.pending)"));
  let index = current ? items.indexOf(current) : items.length;
  index += event.key === "ArrowUp" ? -1 : 1;
  if (index < 0 || index >= items.length) return;
  event.preventDefault();
  items[index].focus();
});
el.list.addEventListener("focusin", (event) => {
  const li = event.target.closest("li.message");
  if (li) messages.setTabbable(li, true);
});
el.list.addEventListener("focusout", (event) => {
  const li = event.target.closest("li.message");
  if (li && !li.contains(event.relatedTarget)) messages.setTabbable(li, false);
});

// A long press on a touch screen shows a message's actions.
let pressTimer = null;
el.list.addEventListener("pointerdown", (event) => {
  if (event.pointerType !== "touch") return;
  const li = event.target.closest("li.message:not(.pending)");
  if (!li) return;
  clearTimeout(pressTimer);
  pressTimer = setTimeout(() => {
    el.list.querySelectorAll("li.show-actions").forEach((other) => other.classList.remove("show-actions"));
    li.classList.add("show-actions");
  }, LONG_PRESS_MS);
});
["pointerup", "pointercancel", "scroll"].forEach((type) => {
  el.list.addEventListener(type, () => clearTimeout(pressTimer), { passive: true });
});

// ---- Composer: modes and @mentions -------------------------------------------------

const mentionState = { query: null, names: [], active: -1 };

function memberNames() {
  return Array.from(document.querySelectorAll("#members li[data-user-id]:not(.visitor) .name"), (name) => name.textContent);
}

function showMentions() {
  const query = mentionQuery(el.body.value, el.body.selectionStart);
  const found = query ? mentionMatches(memberNames(), query.query, { exclude: me.username }) : [];
  if (!found.length) {
    closeMentions();
    return;
  }
  Object.assign(mentionState, { query, names: found, active: 0 });
  drawMentions();
}

function drawMentions() {
  el.mentions.replaceChildren();
  mentionState.names.forEach((name, index) => {
    const option = cloneTemplate("mention-option-template");
    option.id = `mention-option-${index}`;
    option.textContent = `@${name}`;
    option.setAttribute("aria-selected", String(index === mentionState.active));
    option.addEventListener("mousedown", (event) => {
      event.preventDefault();
      pickMention(index);
    });
    el.mentions.appendChild(option);
  });
  el.mentions.hidden = false;
  el.body.setAttribute("aria-activedescendant", `mention-option-${mentionState.active}`);
}

function closeMentions() {
  mentionState.query = null;
  el.mentions.hidden = true;
  el.mentions.replaceChildren();
  el.body.removeAttribute("aria-activedescendant");
}

function pickMention(index) {
  const { text, caret } = completeMention(el.body.value, el.body.selectionStart, mentionState.query, mentionState.names[index]);
  el.body.value = text;
  el.body.setSelectionRange(caret, caret);
  closeMentions();
  el.body.focus();
}

// Keys in the composer before it sends: the mention list, then Escape.
function composerKey(event) {
  if (mentionState.query && !el.mentions.hidden) {
    const moves = { ArrowDown: 1, ArrowUp: -1 };
    if (event.key in moves) {
      event.preventDefault();
      mentionState.active = moveActive(mentionState.active, moves[event.key], mentionState.names.length);
      drawMentions();
      return true;
    }
    if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      pickMention(Math.max(0, mentionState.active));
      return true;
    }
    if (event.key === "Escape") {
      event.preventDefault();
      closeMentions();
      return true;
    }
  }
  if (event.key === "Escape" && mode.kind !== "new") {
    event.preventDefault();
    cancelMode();
    return true;
  }
  return false;
}

el.modeCancel.addEventListener("click", cancelMode);
el.body.addEventListener("blur", () => setTimeout(closeMentions, 150));
el.body.addEventListener("click", showMentions);

// ---- Read position ----------------------------------------------------------------

function seeing() {
  return document.visibilityState === "visible" && document.hasFocus();
}

function scheduleRead() {
  if (readTimer) return;
  readTimer = setTimeout(() => {
    readTimer = null;
    markRead();
  }, READ_DELAY_MS);
}

function markRead() {
  if (!seeing() || phase !== "connected") return;
  const seq = Math.min(messages.highestVisibleSeq(), timeline.contiguous);
  if (seq > readSent) {
    readSent = seq;
    send({ type: "read", seq });
  }
}

// ---- Wiring ---------------------------------------------------------------------

formatAllTimes(document);
messages.adoptServerRendered();
if (room.lastReadSeq < timeline.contiguous) messages.placeDivider(room.lastReadSeq);
// A link to a message (a search result, a notification: ?at=<seq>): the server
// rendered the history around it; newer messages fill in below once connected.
const openAt = Number(new URLSearchParams(location.search).get("at"));
const opening = Number.isSafeInteger(openAt) && openAt > 0;
// More unread than the page holds: page back to the first one once connected
// (not when opening at a message: the reader came for that one).
if (!opening && unreadAboveLoaded()) unreadPagesLeft = UNREAD_PAGES_MAX;
messages.initialScroll();
if (opening) messages.reveal(openAt);
showOlderButton();
showJumps();
el.list.addEventListener("scroll", () => {
  if (el.list.scrollTop < LOAD_OLDER_WITHIN_PX) loadOlder();
  scheduleRead();
  showJumps();
}, { passive: true });
el.jumpLatest.addEventListener("click", () => {
  messages.scrollToBottom();
  el.list.focus({ preventScroll: true });
});
el.jumpUnread.addEventListener("click", () => messages.scrollToDivider());
if (el.older) el.older.addEventListener("click", loadOlder);
el.retry.addEventListener("click", () => socket.reconnectNow());
window.addEventListener("offline", showWaiting);
window.addEventListener("focus", scheduleRead);
document.addEventListener("visibilitychange", scheduleRead);
socket.listenToPage();
socket.connect();
