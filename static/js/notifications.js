/* The notification bell: unread count, a dropdown of the latest, toasts for new
 * ones, "mark all read", and the count kept in step across tabs and devices by
 * the `/ws/notifications/` socket (docs/protocol.md). Plain script, no inline
 * code: it reads its settings from the bell's data- attributes and renders every
 * user string with textContent. */
(function () {
  "use strict";

  var root = document.getElementById("notif-bell");
  if (!root || !("WebSocket" in window)) return;

  var LEVELS = ["info", "success", "warning", "error"];
  var SHOWN = 20;            // items kept in the dropdown
  var TOASTS_MAX = 3;        // toasts on screen at once
  var TOAST_MS = 7000;
  var BACKOFF_MIN = 1000;
  var BACKOFF_MAX = 30000;

  var el = {
    toggle: document.getElementById("notif-toggle"),
    panel: document.getElementById("notif-panel"),
    count: document.getElementById("notif-count"),
    countN: document.getElementById("notif-count-n"),
    items: document.getElementById("notif-items"),
    empty: document.getElementById("notif-empty"),
    status: document.getElementById("notif-status"),
    readAll: document.getElementById("notif-read-all"),
    toasts: document.getElementById("notif-toasts"),
    pageList: document.getElementById("notif-list"),
    pageUnread: document.getElementById("notif-page-unread"),
    pageEmpty: document.getElementById("notif-page-empty"),
    pageReadAll: document.querySelector(".notif-page-read-all button")
  };
  var listUrl = root.dataset.listUrl || "/notifications/";
  var socketPath = root.dataset.socketPath || "/ws/notifications/";
  var seenKey = "notifications.seen." + (root.dataset.userId || "");

  var state = {
    items: new Map(),   // id -> notification
    unread: 0,
    lastId: 0,          // newest id this page has seen: resume point
    socket: null,
    attempt: 0,
    retryTimer: null,
    heartbeat: null,
    stopped: false,
    helloSeen: false
  };

  // ---- Small helpers ----------------------------------------------------------

  function sitePath(url) {
    // Only same-site paths become links (the server refuses others too).
    return typeof url === "string" && url.charAt(0) === "/" &&
      url.charAt(1) !== "/" && url.charAt(1) !== "\\" ? url : "";
  }

  function levelOf(level) {
    return LEVELS.indexOf(level) >= 0 ? level : "info";
  }

  function csrfToken() {
    var input = el.readAll && el.readAll.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function storedSeen() {
    try {
      var value = window.localStorage.getItem(seenKey);
      return value === null ? null : Number(value) || 0;
    } catch (e) {
      return null;
    }
  }

  function storeSeen(id) {
    try {
      var before = storedSeen();
      if (before === null || id > before) window.localStorage.setItem(seenKey, String(id));
    } catch (e) { /* private mode: toasts may repeat, nothing breaks */ }
  }

  var relative = "Intl" in window && Intl.RelativeTimeFormat
    ? new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }) : null;

  function when(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) return "";
    var seconds = Math.round((date.getTime() - Date.now()) / 1000);
    if (!relative || Math.abs(seconds) > 7 * 86400) return date.toLocaleString();
    var units = [["day", 86400], ["hour", 3600], ["minute", 60]];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1]) {
        return relative.format(Math.round(seconds / units[i][1]), units[i][0]);
      }
    }
    return relative.format(0, "second");
  }

  function node(tag, className, text) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = text;
    return element;
  }

  function dot() {
    var span = node("span", "notif-dot");
    span.setAttribute("aria-hidden", "true");
    return span;
  }

  function hidden(name, value) {
    var input = node("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    return input;
  }

  function shorten(text, max) {
    text = String(text || "");
    return text.length > max ? text.slice(0, max - 1) + "…" : text;
  }

  // ---- Count, dropdown and the list page -------------------------------------

  function setCount(count) {
    state.unread = Math.max(0, Number(count) || 0);
    el.countN.textContent = state.unread > 99 ? "99+" : String(state.unread);
    el.count.hidden = state.unread === 0;
    if (el.pageUnread) el.pageUnread.textContent = state.unread + " unread";
    if (el.pageReadAll) el.pageReadAll.disabled = state.unread === 0;
  }

  function remember(notification) {
    // Return true when this page had not seen the notification before.
    if (!notification || typeof notification.id !== "number") return false;
    var fresh = !state.items.has(notification.id);
    state.items.set(notification.id, notification);
    if (notification.id > state.lastId) state.lastId = notification.id;
    return fresh;
  }

  function itemElement(notification) {
    var level = levelOf(notification.level);
    var li = node("li", "notif-item notif-level-" + level + (notification.read ? "" : " notif-unread"));
    li.dataset.id = String(notification.id);
    var link = node("a", "notif-item-link");
    link.href = sitePath(notification.url) || listUrl;
    link.dataset.id = String(notification.id);
    link.appendChild(dot());
    var text = node("span", "notif-item-text");
    text.appendChild(node("span", "notif-item-title", notification.title));
    if (notification.body) text.appendChild(node("span", "notif-item-body", shorten(notification.body, 140)));
    var time = node("time", "notif-item-time muted", when(notification.created_at));
    time.dateTime = notification.created_at || "";
    text.appendChild(time);
    if (!notification.read) text.appendChild(node("span", "visually-hidden", " (unread)"));
    link.appendChild(text);
    li.appendChild(link);
    return li;
  }

  function render() {
    var ids = Array.from(state.items.keys()).sort(function (a, b) { return b - a; });
    ids.slice(SHOWN).forEach(function (id) { state.items.delete(id); });
    var fragment = document.createDocumentFragment();
    ids.slice(0, SHOWN).forEach(function (id) { fragment.appendChild(itemElement(state.items.get(id))); });
    el.items.replaceChildren(fragment);
    el.empty.hidden = ids.length > 0;
  }

  function markRead(ids, all) {
    state.items.forEach(function (notification, id) {
      if (all ? id <= state.lastId : ids.indexOf(id) >= 0) notification.read = true;
    });
    if (!el.pageList) return;
    el.pageList.querySelectorAll(".notif-unread").forEach(function (entry) {
      if (all || ids.indexOf(Number(entry.dataset.id)) >= 0) {
        entry.classList.remove("notif-unread");
        var form = entry.querySelector(".notif-entry-read");
        if (form) form.remove();
        var label = entry.querySelector(".notif-entry-state");
        if (label) label.textContent = "(read)";
      }
    });
  }

  function pageEntry(notification) {
    // The same markup as notifications/list.html renders.
    var li = node("li", "notif-entry notif-level-" + levelOf(notification.level) +
      (notification.read ? "" : " notif-unread"));
    li.dataset.id = String(notification.id);
    li.appendChild(dot());
    var text = node("div", "notif-entry-text");
    var link = node("a", "notif-entry-title", notification.title);
    link.href = sitePath(notification.url) || listUrl;
    text.appendChild(link);
    text.appendChild(node("span", "visually-hidden notif-entry-state", notification.read ? "(read)" : "(unread)"));
    if (notification.body) {
      var body = node("p", "notif-entry-body");
      String(notification.body).split("\n").forEach(function (line, index) {
        if (index) body.appendChild(document.createElement("br"));
        body.appendChild(document.createTextNode(line));
      });
      text.appendChild(body);
    }
    var time = node("time", "muted", new Date(notification.created_at).toLocaleString());
    time.dateTime = notification.created_at || "";
    text.appendChild(time);
    li.appendChild(text);
    if (!notification.read) {
      var form = node("form", "inline notif-entry-read");
      form.method = "post";
      form.action = listUrl + encodeURIComponent(String(notification.id)) + "/read/";
      form.appendChild(hidden("csrfmiddlewaretoken", csrfToken()));
      form.appendChild(hidden("next", window.location.pathname + window.location.search));
      var button = node("button", "link", "Mark read");
      button.type = "submit";
      form.appendChild(button);
      li.appendChild(form);
    }
    return li;
  }

  function showOnPage(notification) {
    // Only the first page of /notifications/ grows live; later pages stay put.
    if (!el.pageList || el.pageList.dataset.live !== "true") return;
    if (el.pageList.querySelector('[data-id="' + Number(notification.id) + '"]')) return;
    el.pageList.insertBefore(pageEntry(notification), el.pageList.firstChild);
    if (el.pageEmpty) el.pageEmpty.hidden = true;
  }

  // ---- Toasts -------------------------------------------------------------------

  function toast(title, body, url, level, id) {
    while (el.toasts.children.length >= TOASTS_MAX) el.toasts.firstElementChild.remove();
    var box = node("div", "notif-toast notif-level-" + levelOf(level));
    box.setAttribute("role", "status");
    var link = node("a", "notif-toast-link");
    link.href = sitePath(url) || listUrl;
    link.appendChild(node("strong", "notif-toast-title", title));
    if (body) link.appendChild(node("span", "notif-toast-body", shorten(body, 140)));
    if (id) link.addEventListener("click", function () { readOnLeave(id); });
    var close = node("button", "notif-toast-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss");
    box.appendChild(link);
    box.appendChild(close);
    var timer = window.setTimeout(function () { box.remove(); }, TOAST_MS);
    close.addEventListener("click", function () { window.clearTimeout(timer); box.remove(); });
    box.addEventListener("mouseenter", function () { window.clearTimeout(timer); });
    box.addEventListener("mouseleave", function () {
      timer = window.setTimeout(function () { box.remove(); }, TOAST_MS / 2);
    });
    el.toasts.appendChild(box);
  }

  function toastAll(fresh) {
    if (fresh.length === 0) return;
    if (fresh.length <= TOASTS_MAX) {
      fresh.forEach(function (n) { toast(n.title, n.body, n.url, n.level, n.id); });
    } else {
      toast(fresh.length + " new notifications", "Open the bell or the list to see them.", listUrl, "info");
    }
  }

  // ---- Reading ------------------------------------------------------------------

  function socketOpen() {
    return state.socket && state.socket.readyState === WebSocket.OPEN;
  }

  function send(frame) {
    if (!socketOpen()) return false;
    state.socket.send(JSON.stringify(frame));
    return true;
  }

  function readOnLeave(id) {
    // The page is about to go: a keepalive POST outlives it, a socket frame may not.
    var item = state.items.get(id);
    if (item && item.read) return;
    try {
      fetch(listUrl + encodeURIComponent(String(id)) + "/read/", {
        method: "POST",
        credentials: "same-origin",
        keepalive: true,
        headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
      });
    } catch (e) { /* best effort */ }
  }

  // ---- The socket ----------------------------------------------------------------

  function setStatus(text) {
    el.status.textContent = text;
    el.status.hidden = !text;
  }

  // The socket's state, as data-state on the bell (for styling and tests):
  // connecting, connected, reconnecting or signed-out.
  function setState(name) {
    root.dataset.state = name;
  }

  function connect() {
    state.retryTimer = null;
    if (state.stopped) return;
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var url = scheme + window.location.host + socketPath;
    if (state.helloSeen) url += "?after=" + state.lastId;
    var socket;
    try {
      socket = new WebSocket(url);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    state.socket = socket;
    socket.addEventListener("open", function () {
      state.attempt = 0;
      if (state.heartbeat) state.heartbeat.stop();
      state.heartbeat = window.RelayHeartbeat(send, function () { giveUp(socket); });
    });
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame.type === "string") handle(frame);
    });
    socket.addEventListener("close", function (event) {
      if (state.socket !== socket) return;  // one we gave up on already
      state.socket = null;
      if (state.heartbeat) state.heartbeat.stop();
      if (event.code === 4401) {
        // Logged out (here or elsewhere): reconnecting would only be refused again.
        state.stopped = true;
        setState("signed-out");
        setStatus("You are signed out. Reload the page to sign in again.");
        return;
      }
      setState("reconnecting");
      setStatus("Reconnecting…");
      scheduleReconnect();
    });
  }

  // A socket that stopped answering pings is dead even if the browser has not
  // noticed: drop it and connect again (resuming after the last id seen).
  function giveUp(socket) {
    if (state.socket !== socket) return;
    state.socket = null;
    try { socket.close(); } catch (e) { /* closing already */ }
    setState("reconnecting");
    setStatus("Reconnecting…");
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (state.stopped || state.retryTimer !== null) return;
    // Exponential backoff with jitter, so a restarted server isn't hit by every tab at once.
    var ceiling = Math.min(BACKOFF_MAX, BACKOFF_MIN * Math.pow(2, state.attempt));
    state.attempt += 1;
    var delay = ceiling / 2 + Math.random() * ceiling / 2;
    state.retryTimer = window.setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (state.stopped || socketOpen() || (state.socket && state.socket.readyState === WebSocket.CONNECTING)) return;
    window.clearTimeout(state.retryTimer);
    state.retryTimer = null;
    state.attempt = 0;
    connect();
  }

  function handle(frame) {
    if (frame.type === "hello") return onHello(frame);
    if (frame.type === "notification") return onNotification(frame);
    if (frame.type === "unread") return onUnread(frame);
    if (frame.type === "pong" && state.heartbeat) state.heartbeat.pong();
  }

  function onHello(frame) {
    var resumed = state.helloSeen;
    var seen = storedSeen();
    var fresh = [];
    (frame.notifications || []).forEach(function (n) {
      var isNew = remember(n);
      // New to this page, and (on a page load) newer than anything this browser showed.
      if (isNew && !n.read && (resumed || (seen !== null && n.id > seen))) fresh.push(n);
      if (resumed) showOnPage(n);
    });
    if (typeof frame.last_id === "number" && frame.last_id > state.lastId) state.lastId = frame.last_id;
    state.helloSeen = true;
    setState("connected");
    setCount(frame.unread);
    setStatus("");
    render();
    toastAll(fresh);
    storeSeen(state.lastId);
  }

  function onNotification(frame) {
    var n = frame.notification;
    if (remember(n) && !n.read) toast(n.title, n.body, n.url, n.level, n.id);
    showOnPage(n);
    setCount(frame.unread);
    render();
    storeSeen(state.lastId);
  }

  function onUnread(frame) {
    if (frame.read_all) markRead([], true);
    else if (Array.isArray(frame.read)) markRead(frame.read, false);
    setCount(frame.count);
    render();
  }

  // ---- The dropdown ---------------------------------------------------------------

  function openPanel(open) {
    el.panel.hidden = !open;
    el.toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  el.toggle.addEventListener("click", function (event) {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    openPanel(el.panel.hidden);
  });

  document.addEventListener("click", function (event) {
    if (!el.panel.hidden && !root.contains(event.target)) openPanel(false);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !el.panel.hidden) {
      openPanel(false);
      el.toggle.focus();
    }
  });

  el.items.addEventListener("click", function (event) {
    var link = event.target.closest("a.notif-item-link");
    if (link) readOnLeave(Number(link.dataset.id));
  });

  el.readAll.addEventListener("submit", function (event) {
    // Over the socket when it is up; otherwise the form posts as usual.
    if (send({ type: "read_all" })) event.preventDefault();
  });

  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") reconnectNow();
  });

  setCount(Number(el.countN.textContent) || 0);
  el.empty.hidden = true;
  el.status.hidden = true;
  setState("connecting");
  connect();
})();
