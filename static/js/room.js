// The room page (wire contract: docs/protocol.md, /ws/chat/<slug>/): wires the
// socket to the timeline, the outbox, presence, typing and the composer.
//
// #connection's data-state: connecting, connected (after hello), waiting ("Reconnecting
// in N s", "Offline · retrying in N s"; #retry connects at once) or gone (signed
// out, or no access to the room any more).

import { clientConfig, readJson } from "./config.js";
import { Composer } from "./composer.js";
import { Outbox, rateLimitWait } from "./outbox.js";
import { Presence } from "./presence.js";
import { ReconnectingSocket } from "./socket.js";
import { formatAllTimes } from "./times.js";
import { MessageList, pendingMessageNode, Timeline } from "./timeline.js";
import { TypingIndicator, TypingThrottle } from "./typing.js";

// Live frames may arrive out of seq order for a moment: wait before filling a hole.
const GAP_GRACE_MS = 800;
const READ_DELAY_MS = 300;
const LOAD_OLDER_WITHIN_PX = 80;

const room = readJson("room-config");
const me = room.user;

const el = {
  room: document.getElementById("room"),
  list: document.getElementById("messages"),
  older: document.getElementById("load-older"),
  connection: document.getElementById("connection"),
  retry: document.getElementById("retry"),
};

let phase = "connecting";
let readSent = room.lastReadSeq || 0;
let readTimer = null;
let gapTimer = null;
let countdownTimer = null;
let outboxTimer = null;

const timeline = new Timeline({ contiguous: room.lastSeq || 0, hasMore: room.hasMore });
const outbox = new Outbox();
const messages = new MessageList({
  list: el.list,
  me,
  timeline,
  firstPending: () => (outbox.length ? outbox.items[0].node : null),
});
const presence = new Presence({
  members: document.getElementById("members"),
  counter: document.getElementById("online-count"),
});
const typingIntervalMs = clientConfig.CHAT_TYPING_INTERVAL * 1000;
const typing = new TypingIndicator(document.getElementById("typing"), typingIntervalMs);
const typingThrottle = new TypingThrottle(typingIntervalMs);
const composer = new Composer({
  form: document.getElementById("composer"),
  body: document.getElementById("composer-body"),
  error: document.getElementById("composer-error"),
  limits: { maxChars: clientConfig.CHAT_MAX_BODY_CHARS, maxFrameBytes: clientConfig.REALTIME_MAX_FRAME_BYTES },
  onMessage: queueMessage,
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

// ---- Connection status --------------------------------------------------------

function setPhase(next, text = "") {
  phase = next;
  clearInterval(countdownTimer);
  el.connection.dataset.state = next;
  el.retry.hidden = next !== "waiting";
  presence.stale(next !== "connected");
  if (next === "connecting") el.connection.textContent = "Connecting…";
  else if (next === "connected") el.connection.textContent = "Connected";
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
  el.connection.textContent = `${offline ? "Offline · retrying in " : "Reconnecting in "}${seconds} s`;
}

function onClose(code, decision) {
  if (decision.reason === "signed-out") {
    setPhase("gone", "Signed out: taking you to the login page…");
    const login = el.room.dataset.loginUrl;
    location.assign(`${login}?next=${encodeURIComponent(location.pathname)}`);
  } else if (decision.reason === "no-access") {
    setPhase("gone", "You no longer have access to this room.");
    composer.close("You no longer have access to this room.");
  } else if (decision.reason === "too-large") {
    composer.showError("The server closed the connection: a frame was too large.");
  } else if (decision.reason === "flooding") {
    composer.showError("Too many messages too fast: the server paused you for a moment.");
  }
}

// ---- Frames from the server ----------------------------------------------------

const handlers = {
  hello: onHello,
  message: (frame) => addMessages([frame.message], "live"),
  history: onHistory,
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
  }
  composer.showError(frame.detail || "Something went wrong.");
}

// ---- Messages ---------------------------------------------------------------------

function addMessage(message) {
  const mine = message.author.id === me.id && outbox.confirm(message.client_id);
  if (mine) {
    mine.node.remove();
    if (outbox.oneByOne) flushOutbox();
  }
  if (!messages.insert(message)) return false;
  typing.clear(message.author.id);
  return true;
}

// Add a batch, keeping the reader's place, then look for holes.
function addMessages(batch, where) {
  const restorePlace = messages.keepPlace(where);
  const added = batch.filter(addMessage).length;
  if (timeline.advance()) scheduleGapFill();
  restorePlace();
  if (added) {
    if (!seeing()) messages.placeDivider(readSent);
    scheduleRead();
  }
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
    el.older.textContent = "Loading…";
  }
}

function requestHistory(request) {
  if (!request || !send({ type: "history", before_seq: request.beforeSeq, limit: request.limit })) {
    return false;
  }
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
  el.older.textContent = "Load older messages";
  el.older.closest("li").hidden = !timeline.hasMore;
}

// ---- Outbox -----------------------------------------------------------------------

function queueMessage(body) {
  const item = outbox.add(body);
  item.node = pendingMessageNode(me, body);
  messages.appendPending(item.node);
  flushOutbox();
}

function flushOutbox() {
  if (outbox.paused) {
    showPaused();
    return;
  }
  outbox.flush(socket.generation, (item) => {
    if (!send({ type: "send", body: item.body, client_id: item.clientId })) return false;
    setPendingStatus(item, "sending…");
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

// Say why the unsent items wait, on them and under the composer.
function showPaused() {
  outbox.unsentOn(socket.generation).forEach((item) => setPendingStatus(item, "waiting…"));
  composer.showError(`Sending too fast: sending again in ${outbox.secondsLeft} s.`, true);
}

function setPendingStatus(item, text) {
  item.node.querySelector(".status").textContent = text;
}

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
messages.initialScroll();
showOlderButton();
el.list.addEventListener("scroll", () => {
  if (el.list.scrollTop < LOAD_OLDER_WITHIN_PX) loadOlder();
  scheduleRead();
}, { passive: true });
if (el.older) el.older.addEventListener("click", loadOlder);
el.retry.addEventListener("click", () => socket.reconnectNow());
window.addEventListener("offline", showWaiting);
window.addEventListener("focus", scheduleRead);
document.addEventListener("visibilitychange", scheduleRead);
socket.listenToPage();
socket.connect();
