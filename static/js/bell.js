// The notification bell on every page (docs/protocol.md, /ws/notifications/):
// unread count, a dropdown of the latest, toasts for new ones, "mark all read",
// and the count kept in step across tabs and devices. #notif-bell's data-state:
// connecting, connected, reconnecting or signed-out.

import { clientConfig } from "./config.js";
import { offerDesktop } from "./desktop-notify.js";
import { cloneTemplate, setText } from "./dom.js";
import { countLabel, Inbox, isAboutRoom, levelOf, shorten, sitePath } from "./inbox.js";
import { NotificationPage } from "./notification-page.js";
import { ReconnectingSocket } from "./socket.js";
import { formatAllTimes, relativeTime } from "./times.js";
import { gettext } from "./i18n.js";
import { Toasts } from "./toasts.js";

const BODY_CHARS = 140;
// Its socket is less urgent than the room's: let the room reconnect first.
const BACKOFF_FIRST_MS = 1000;

const root = document.getElementById("notif-bell");
const el = {
  toggle: document.getElementById("notif-toggle"),
  panel: document.getElementById("notif-panel"),
  count: document.getElementById("notif-count"),
  countN: document.getElementById("notif-count-n"),
  items: document.getElementById("notif-items"),
  empty: document.getElementById("notif-empty"),
  status: document.getElementById("notif-status"),
  readAll: document.getElementById("notif-read-all"),
};
const listUrl = root.dataset.listUrl;
// The room in front of the user, if this page is one: nothing toasts for it.
const currentRoom = document.getElementById("room")?.dataset.roomPath || "";
const seenKey = `notifications.seen.${root.dataset.userId}`;

const inbox = new Inbox(clientConfig.NOTIFICATIONS_LATEST);
const page = new NotificationPage({
  list: document.getElementById("notif-list"),
  unread: document.getElementById("notif-page-unread"),
  empty: document.getElementById("notif-page-empty"),
  readAll: document.querySelector(".notif-page-read-all button"),
  listUrl,
});
// The notifications page's server-rendered times, in the one format rooms use too.
if (page.list) formatAllTimes(page.list);
const toasts = new Toasts({ container: document.getElementById("notif-toasts"), listUrl, onOpen: readOnLeave });

const socket = new ReconnectingSocket({
  url: () => {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const after = inbox.greeted ? `?after=${inbox.lastId}` : "";
    return `${scheme}${location.host}${root.dataset.socketPath}${after}`;
  },
  pingIntervalMs: clientConfig.REALTIME_PING_INTERVAL * 1000,
  pongTimeoutMs: clientConfig.REALTIME_PONG_TIMEOUT * 1000,
  backoffFirstMs: BACKOFF_FIRST_MS,
  onFrame: (frame) => {
    if (Object.hasOwn(handlers, frame.type)) handlers[frame.type](frame);
    // This is the user's own stream: other modules of the page hear it too (room-list.js).
    document.dispatchEvent(new CustomEvent("userstream:frame", { detail: frame }));
  },
  onClose: (code, decision) => {
    if (decision.reason === "signed-out") {
      // Logged out (here or elsewhere): reconnecting would only be refused again.
      root.dataset.state = "signed-out";
      setStatus(gettext("You are signed out. Reload the page to sign in again."));
    }
  },
  onWaiting: () => {
    root.dataset.state = "reconnecting";
    setStatus(gettext("Reconnecting…"));
  },
});

// ---- The newest this browser has shown, across page loads -----------------------
// Toasts on a page load only for what is newer: not the same ones on every page.

function storedSeen() {
  try {
    const value = localStorage.getItem(seenKey);
    return value === null ? null : Number(value) || 0;
  } catch {
    return null;
  }
}

function storeSeen(id) {
  try {
    const before = storedSeen();
    if (before === null || id > before) localStorage.setItem(seenKey, String(id));
  } catch {
    // Private mode: toasts may repeat, nothing breaks.
  }
}

// ---- Count and dropdown ---------------------------------------------------------

function setCount(count) {
  inbox.setUnread(count);
  el.countN.textContent = countLabel(inbox.unread);
  el.count.hidden = inbox.unread === 0;
  page.setUnread(inbox.unread);
}

function itemElement(notification) {
  const li = cloneTemplate("notif-item-template");
  li.classList.add(`notif-level-${levelOf(notification.level)}`);
  li.dataset.id = String(notification.id);
  const link = li.querySelector(".notif-item-link");
  link.href = sitePath(notification.url) || listUrl;
  link.dataset.id = String(notification.id);
  setText(li, ".notif-item-title", notification.title);
  if (notification.body) setText(li, ".notif-item-body", shorten(notification.body, BODY_CHARS));
  else li.querySelector(".notif-item-body").remove();
  const time = setText(li, ".notif-item-time", relativeTime(notification.created_at));
  time.dateTime = notification.created_at || "";
  if (notification.read) li.querySelector(".notif-item-unread").remove();
  else li.classList.add("notif-unread");
  return li;
}

function render() {
  const latest = inbox.latest();
  el.items.replaceChildren(...latest.map(itemElement));
  el.empty.hidden = latest.length > 0;
}

function setStatus(text) {
  el.status.textContent = text;
  el.status.hidden = !text;
}

function openPanel(open) {
  el.panel.hidden = !open;
  el.toggle.setAttribute("aria-expanded", open ? "true" : "false");
}

// The page is about to go: a keepalive POST outlives it, a socket frame may not.
function readOnLeave(id) {
  if (inbox.isRead(id)) return;
  const token = el.readAll.querySelector("input[name=csrfmiddlewaretoken]").value;
  fetch(`${listUrl}${encodeURIComponent(String(id))}/read/`, {
    method: "POST",
    credentials: "same-origin",
    keepalive: true,
    headers: { "X-CSRFToken": token, Accept: "application/json" },
  }).catch(() => {
    // Best effort: the notification stays unread.
  });
}

// ---- Frames from the server ------------------------------------------------------

const handlers = {
  hello(frame) {
    const resumed = inbox.greeted;
    const fresh = inbox.greet(frame, storedSeen());
    if (resumed) (frame.notifications || []).forEach((notification) => page.add(notification));
    socket.established();
    root.dataset.state = "connected";
    setCount(frame.unread);
    setStatus("");
    render();
    toasts.showAll(fresh.filter((notification) => !isAboutRoom(notification, currentRoom)));
    storeSeen(inbox.lastId);
  },
  notification(frame) {
    const notification = frame.notification;
    if (inbox.remember(notification) && !notification.read &&
        !isAboutRoom(notification, currentRoom)) toasts.show(notification);
    offerDesktop(notification);
    page.add(notification);
    setCount(frame.unread);
    render();
    storeSeen(inbox.lastId);
  },
  unread(frame) {
    const ids = Array.isArray(frame.read) ? frame.read : [];
    if (frame.read_all || ids.length) {
      inbox.markRead(ids, Boolean(frame.read_all));
      page.markRead(ids, Boolean(frame.read_all));
    }
    setCount(frame.count);
    render();
  },
};

// ---- Wiring ---------------------------------------------------------------------

el.toggle.addEventListener("click", (event) => {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  openPanel(el.panel.hidden);
});
document.addEventListener("click", (event) => {
  if (!el.panel.hidden && !root.contains(event.target)) openPanel(false);
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !el.panel.hidden) {
    openPanel(false);
    el.toggle.focus();
  }
});
el.items.addEventListener("click", (event) => {
  const link = event.target.closest("a.notif-item-link");
  if (link) readOnLeave(Number(link.dataset.id));
});
el.readAll.addEventListener("submit", (event) => {
  // Over the socket when it is up; otherwise the form posts as usual.
  if (socket.send({ type: "read_all" })) event.preventDefault();
});

setCount(Number(el.countN.textContent) || 0);
el.empty.hidden = true;
el.status.hidden = true;
root.dataset.state = "connecting";
socket.listenToPage();
socket.connect();
