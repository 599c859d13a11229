// Room moderation in the room page (docs/protocol.md, "Moderation"): the pinned
// list in the header, live for everyone; the pin and report actions on
// messages; the slow-mode countdown in the composer. It hears the room's socket
// through room.js's `room:frame` events and sends through `room:send`.

import { readJson } from "./config.js";
import { cloneTemplate, setText } from "./dom.js";
import { excerpt } from "./message-state.js";
import { interpolate, PinnedList, SlowModeClock } from "./moderation-state.js";

const PINNED_EXCERPT_CHARS = 80;
const TICK_MS = 250;

const me = readJson("room-config").user;
const text = readJson("moderation-text") || {};
const el = {
  room: document.getElementById("room"),
  pinned: document.getElementById("pinned"),
  pinnedList: document.getElementById("pinned-list"),
  pinnedCount: document.getElementById("pinned-count"),
  list: document.getElementById("messages"),
  composer: document.getElementById("composer"),
  slowMode: document.getElementById("slow-mode"),
  notice: document.getElementById("composer-error"),
  reportDialog: document.getElementById("report-dialog"),
  reportReason: document.getElementById("report-reason"),
};
const pins = new PinnedList();
const clock = new SlowModeClock();
let ticker = null;
let reporting = null;

function send(frame) {
  const detail = { frame, sent: false };
  document.dispatchEvent(new CustomEvent("room:send", { detail }));
  if (!detail.sent) notify(text.notConnected);
  return detail.sent;
}

function notify(message) {
  if (!message) return;
  el.notice.textContent = message;
  el.notice.hidden = false;
}

// ---- Pinned list -------------------------------------------------------------

function drawPins() {
  const items = pins.list();
  el.pinnedList.replaceChildren(...items.map(pinnedItem));
  el.pinned.hidden = items.length === 0;
  el.pinnedCount.textContent = items.length ? `(${items.length})` : "";
  el.list.querySelectorAll("li.message[data-id] .act-pin").forEach((button) => {
    const pinned = pins.has(Number(button.closest("li").dataset.id));
    button.setAttribute("aria-pressed", String(pinned));
    button.title = pinned ? text.unpin : text.pin;
  });
}

function pinnedItem(message) {
  const li = cloneTemplate("pinned-template");
  li.dataset.id = message.id;
  li.dataset.seq = message.seq;
  setText(li, ".pinned-author", message.author.username);
  setText(li, ".pinned-excerpt", excerpt(message.excerpt, PINNED_EXCERPT_CHARS));
  return li;
}

el.pinnedList.addEventListener("click", (event) => {
  const li = event.target.closest("li.pinned-item");
  if (!li) return;
  if (event.target.closest(".pinned-unpin")) {
    send({ type: "pin", message_id: Number(li.dataset.id), on: false });
  } else if (event.target.closest(".pinned-jump")) {
    const target = el.list.querySelector(`li.message[data-id="${Number(li.dataset.id)}"]`);
    if (target) {
      target.scrollIntoView({ block: "center" });
      target.focus({ preventScroll: true });
    }
  }
});

// ---- Message actions: pin, report -------------------------------------------------

el.list.addEventListener("click", (event) => {
  const button = event.target.closest("button.act-pin, button.act-report");
  if (!button) return;
  const li = button.closest("li.message[data-id]");
  if (!li) return;
  const id = Number(li.dataset.id);
  if (button.classList.contains("act-pin")) {
    send({ type: "pin", message_id: id, on: !pins.has(id) });
  } else {
    reporting = id;
    el.reportReason.value = "";
    el.reportDialog.returnValue = "";
    el.reportDialog.showModal();
  }
});

el.reportDialog.addEventListener("close", () => {
  const id = reporting;
  reporting = null;
  if (id === null || el.reportDialog.returnValue !== "report") return;
  const reason = el.reportReason.value.trim();
  if (reason) send({ type: "report", message_id: id, reason });
});

// ---- Slow mode ----------------------------------------------------------------------

function showSlowMode() {
  const left = clock.secondsLeft();
  if (left > 0) {
    el.slowMode.textContent = interpolate(text.slowMode, { seconds: left });
  } else if (clock.seconds && !clock.exempt) {
    el.slowMode.textContent = interpolate(text.slowModeOn, { seconds: clock.seconds });
  }
  el.slowMode.hidden = !(left > 0 || (clock.seconds && !clock.exempt));
  el.slowMode.dataset.waiting = String(left > 0);
  if (left === 0 && ticker) {
    clearInterval(ticker);
    ticker = null;
  }
}

function startCountdown() {
  showSlowMode();
  if (!ticker && clock.waiting()) ticker = setInterval(showSlowMode, TICK_MS);
}

// While the wait lasts, Enter and Send keep the text in the box (the server
// would refuse it anyway); room.js's composer never sees the submit.
document.addEventListener("submit", (event) => {
  if (event.target !== el.composer || !clock.waiting()) return;
  event.preventDefault();
  event.stopImmediatePropagation();
  startCountdown();
}, true);

// ---- Frames -------------------------------------------------------------------------

const handlers = {
  hello(frame) {
    pins.reset(Array.isArray(frame.pinned) ? frame.pinned : [], frame.last_seq);
    clock.setMode(frame.slow_mode || 0, frame.slow_mode_exempt);
    drawPins();
    startCountdown();
  },
  update(frame) {
    if (pins.apply(frame)) drawPins();
  },
  catch_up(frame) {
    const changed = (frame.events || []).filter((event) => event.type === "update" && pins.apply(event));
    if (changed.length) drawPins();
  },
  message(frame) {
    const message = frame.message;
    if (message && message.author && message.author.id === me.id) {
      const at = Date.parse(message.created_at);
      clock.sent(Number.isFinite(at) ? at : undefined);
      startCountdown();
    }
  },
  slow_mode(frame) {
    clock.setMode(frame.seconds || 0);
    startCountdown();
  },
  error(frame) {
    if (frame.code === "slow_mode") {
      clock.setMode(frame.slow_mode || clock.seconds);
      clock.refused(frame.retry_after);
      startCountdown();
    }
  },
  reported() {
    notify(text.reported);
  },
};

document.addEventListener("room:frame", (event) => {
  const frame = event.detail;
  if (Object.hasOwn(handlers, frame.type)) handlers[frame.type](frame);
});
