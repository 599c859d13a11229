/*
 * The room page's live client (wire contract: docs/protocol.md, /ws/chat/<slug>/).
 *
 * Connection state machine (shown in #connection as data-state):
 *
 *   connecting --hello--> connected --socket lost / 1001 / 1006 / 4408--> waiting
 *   waiting --backoff timer, "Retry now", browser back online--> connecting
 *   connecting --closed before hello--> waiting (backoff grows, with jitter, cap 30 s)
 *   any --4413 / 4429--> waiting (after saying why)
 *   any --4401--> login page          any --4403 / 4404--> gone (never reconnects)
 *
 * "waiting" reads "Reconnecting in N s" ("Offline" when the browser says so) and
 * shows #retry, which connects at once.
 *
 * Messages live in #messages ordered by seq; `contiguous` is the highest seq up to
 * which nothing is missing, and every (re)connect resumes with ?after=contiguous.
 * A seq seen beyond a hole is filled with `history` (or by the next resume); each
 * `history` reply is matched to its request by the `before_seq` it echoes. Sends
 * wait in the outbox (shown as pending) and go out again, with the same client_id,
 * on every new connection until their own `message` echo arrives. A `rate_limited`
 * error pauses the outbox for the `retry_after` seconds it names, then the unsent
 * ones go again, in order; one that echoes a `before_seq` sends that `history`
 * request again after `retry_after`.
 */
(function () {
  "use strict";

  var BACKOFF_FIRST_MS = 500;
  var BACKOFF_CAP_MS = 30000;
  var TYPING_SEND_EVERY_MS = 2000;
  var TYPING_SHOW_MS = 4000;
  var GAP_GRACE_MS = 800;
  var HISTORY_PAGE = 50;
  var HISTORY_MAX = 100;
  var MAX_BODY = 4000;
  var GROUP_WITHIN_MS = 5 * 60 * 1000;
  var RATE_LIMIT_WAIT_MS = 5000; // when a rate_limited error names no retry_after
  var RATE_LIMIT_WAIT_MAX_MS = 60000;

  // ---- Times in the reader's local time --------------------------------------

  var timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
  var dateTimeFormat = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
  var fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });

  function isToday(date) {
    return date.toDateString() === new Date().toDateString();
  }

  function formatTime(el) {
    var date = new Date(el.getAttribute("datetime"));
    if (isNaN(date.getTime())) return;
    el.textContent = (isToday(date) ? timeFormat : dateTimeFormat).format(date);
    el.title = fullFormat.format(date);
  }

  function formatAllTimes(root) {
    Array.prototype.forEach.call(root.querySelectorAll("time[datetime]"), formatTime);
  }

  formatAllTimes(document);

  var configEl = document.getElementById("chat-config");
  if (!configEl) return; // Pages other than a room only need their times formatted.

  // ---- State ------------------------------------------------------------------

  var config = JSON.parse(configEl.textContent);
  var me = config.user;

  var el = {
    room: document.getElementById("room"),
    list: document.getElementById("messages"),
    older: document.getElementById("load-older"),
    connection: document.getElementById("connection"),
    retry: document.getElementById("retry"),
    typing: document.getElementById("typing"),
    members: document.getElementById("members"),
    onlineCount: document.getElementById("online-count"),
    form: document.getElementById("composer"),
    body: document.getElementById("composer-body"),
    error: document.getElementById("composer-error"),
  };

  var state = {
    socket: null,
    socketId: 0,
    phase: "connecting",
    attempts: 0,
    retryAt: 0,
    retryTimer: null,
    countdownTimer: null,
    heartbeat: null,
    gapTimer: null,
    leaving: false,
    hasMore: Boolean(config.hasMore),
    loadingOlder: false,
    historyPending: [], // `history` requests in flight: {beforeSeq, kind: "gap" | "older", from, to}.
    gapInFlight: false,
    contiguous: config.lastSeq || 0,
    knownLast: config.lastSeq || 0,
    readSent: config.lastReadSeq || 0,
    readTimer: null,
    lastTypingSent: 0,
    typers: new Map(), // user id -> {name, timer}
    errorTimer: null,
    outboxPausedUntil: 0, // after rate_limited: nothing is sent before then
    outboxOneByOne: false, // after a pause: one send in flight until the outbox is empty
    outboxTimer: null,
  };

  var seqs = []; // Sorted seqs shown in #messages.
  var absent = new Set(); // Seqs `history` proved gone (deleted): not holes to fill.
  var bySeq = new Map(); // seq -> <li>
  var outbox = []; // {clientId, body, li, sentOn}

  // ---- Rendering messages ----------------------------------------------------------

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function avatarClass(userId) {
    return "avatar avatar-" + (Math.abs(Number(userId) || 0) % 10);
  }

  function messageNode(message) {
    var li = make("li", "message");
    li.dataset.seq = message.seq;
    li.dataset.id = message.id;
    li.dataset.authorId = message.author.id;
    if (message.author.id === me.id) li.classList.add("mine");
    var avatar = make("span", avatarClass(message.author.id), initial(message.author.username));
    avatar.setAttribute("aria-hidden", "true");
    var meta = make("div", "meta");
    meta.appendChild(make("span", "author", message.author.username));
    var time = make("time");
    time.setAttribute("datetime", message.created_at);
    formatTime(time);
    meta.appendChild(time);
    li.appendChild(avatar);
    li.appendChild(meta);
    li.appendChild(make("div", "body", message.body));
    return li;
  }

  function initial(name) {
    return (name || "?").charAt(0).toUpperCase();
  }

  function pendingNode(item) {
    var li = make("li", "message mine pending");
    li.dataset.authorId = me.id;
    var avatar = make("span", avatarClass(me.id), initial(me.username));
    avatar.setAttribute("aria-hidden", "true");
    var meta = make("div", "meta");
    meta.appendChild(make("span", "author", me.username));
    meta.appendChild(make("span", "status", "sending…"));
    li.appendChild(avatar);
    li.appendChild(meta);
    li.appendChild(make("div", "body", item.body));
    return li;
  }

  function firstPendingNode() {
    return outbox.length ? outbox[0].li : null;
  }

  function insertIndex(seq) {
    var low = 0;
    var high = seqs.length;
    while (low < high) {
      var mid = (low + high) >> 1;
      if (seqs[mid] < seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  // Group a message under the one before it (same author, within minutes).
  function regroup(li) {
    if (!li || !li.classList.contains("message") || li.classList.contains("pending")) return;
    var prev = li.previousElementSibling;
    var grouped = Boolean(
      prev && prev.classList.contains("message") && !prev.classList.contains("pending") &&
      prev.dataset.authorId === li.dataset.authorId &&
      timeOf(li) - timeOf(prev) < GROUP_WITHIN_MS
    );
    li.classList.toggle("grouped", grouped);
  }

  function timeOf(li) {
    var time = li.querySelector("time");
    return time ? new Date(time.getAttribute("datetime")).getTime() : 0;
  }

  // Add a message in seq order; return false for one already shown.
  function addMessage(message) {
    confirmOutbox(message);
    if (typeof message.seq !== "number" || bySeq.has(message.seq)) return false;
    var li = messageNode(message);
    var index = insertIndex(message.seq);
    el.list.insertBefore(li, nodeAfter(message.seq, index));
    seqs.splice(index, 0, message.seq);
    bySeq.set(message.seq, li);
    regroup(li);
    regroup(li.nextElementSibling);
    removeEmptyNote();
    clearTyper(message.author.id);
    state.knownLast = Math.max(state.knownLast, message.seq);
    return true;
  }

  // The node a message with `seq` goes before: the next message, the "new messages"
  // divider when the message was already read, or the first pending send.
  function nodeAfter(seq, index) {
    var next = index < seqs.length ? bySeq.get(seqs[index]) : firstPendingNode();
    var prev = next ? next.previousElementSibling : null;
    if (prev && prev.classList.contains("divider") && seq <= Number(prev.dataset.readSeq)) {
      return prev;
    }
    return next;
  }

  function removeEmptyNote() {
    var empty = el.list.querySelector("li.empty");
    if (empty) empty.remove();
  }

  // Add a batch, keeping the reader's place, then look for holes.
  function addMessages(messages, where) {
    var keep = where === "older" ? anchorScroll() : stickToBottom();
    var added = 0;
    messages.forEach(function (message) {
      if (addMessage(message)) added += 1;
    });
    advanceContiguous();
    keep();
    if (added) {
      if (!seeing()) placeDivider(state.readSent);
      scheduleRead();
    }
    return added;
  }

  function advanceContiguous() {
    while (bySeq.has(state.contiguous + 1) || absent.has(state.contiguous + 1)) {
      state.contiguous += 1;
    }
    if (state.knownLast > state.contiguous) scheduleGapFill();
  }

  // Take over what the server rendered into the page.
  function adoptServerRendered() {
    Array.prototype.forEach.call(el.list.querySelectorAll("li.message[data-seq]"), function (li) {
      var seq = Number(li.dataset.seq);
      if (li.dataset.authorId === String(me.id)) li.classList.add("mine");
      seqs.push(seq);
      bySeq.set(seq, li);
    });
    seqs.sort(function (a, b) { return a - b; });
    seqs.forEach(function (seq) { regroup(bySeq.get(seq)); });
  }

  // ---- Scrolling ------------------------------------------------------------------

  function nearBottom() {
    return el.list.scrollHeight - el.list.scrollTop - el.list.clientHeight < 60;
  }

  function scrollToBottom() {
    el.list.scrollTop = el.list.scrollHeight;
  }

  // Follow new messages only when the reader was already at the bottom.
  function stickToBottom() {
    var was = nearBottom();
    return function () { if (was) scrollToBottom(); };
  }

  // Keep the same messages in view when older ones go in above.
  function anchorScroll() {
    var fromBottom = el.list.scrollHeight - el.list.scrollTop;
    return function () { el.list.scrollTop = el.list.scrollHeight - fromBottom; };
  }

  // ---- "New messages" divider ---------------------------------------------------

  function placeDivider(readSeq) {
    if (el.list.querySelector("li.divider")) return;
    var index = insertIndex(readSeq + 1);
    if (index >= seqs.length) return;
    var first = bySeq.get(seqs[index]);
    if (first.classList.contains("mine")) return;
    var divider = make("li", "divider");
    divider.dataset.readSeq = readSeq;
    divider.setAttribute("role", "separator");
    divider.appendChild(make("span", "", "New messages"));
    el.list.insertBefore(divider, first);
    first.classList.remove("grouped");
  }

  function removeDivider() {
    var divider = el.list.querySelector("li.divider");
    if (!divider) return;
    var next = divider.nextElementSibling;
    divider.remove();
    regroup(next);
  }

  function initialScroll() {
    var divider = el.list.querySelector("li.divider");
    scrollToBottom();
    if (divider && divider.offsetTop < el.list.scrollTop) {
      el.list.scrollTop = divider.offsetTop - 8;
    }
  }

  // ---- Read position ----------------------------------------------------------

  function seeing() {
    return document.visibilityState === "visible" && document.hasFocus();
  }

  function highestVisibleSeq() {
    var bottom = el.list.scrollTop + el.list.clientHeight;
    for (var i = seqs.length - 1; i >= 0; i--) {
      var li = bySeq.get(seqs[i]);
      if (li.offsetTop + Math.min(li.offsetHeight, 24) <= bottom + 1) return seqs[i];
    }
    return 0;
  }

  function scheduleRead() {
    if (state.readTimer) return;
    state.readTimer = setTimeout(function () {
      state.readTimer = null;
      markRead();
    }, 300);
  }

  function markRead() {
    if (!seeing() || state.phase !== "connected") return;
    var seq = Math.min(highestVisibleSeq(), state.contiguous);
    if (seq > state.readSent) {
      state.readSent = seq;
      send({ type: "read", seq: seq });
    }
  }

  // ---- Socket ---------------------------------------------------------------------

  function socketUrl() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + location.host + "/ws/chat/" + encodeURIComponent(config.slug) +
      "/?after=" + state.contiguous;
  }

  function send(frame) {
    var socket = state.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || state.phase !== "connected") return false;
    socket.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdownTimer);
    if (state.phase === "gone" || state.leaving) return;
    dropSocket();
    setPhase("connecting");
    var socket = new WebSocket(socketUrl());
    var id = ++state.socketId;
    state.socket = socket;
    socket.addEventListener("message", function (event) {
      if (state.socketId === id) onFrame(event.data);
    });
    socket.addEventListener("close", function (event) {
      if (state.socketId === id) onClose(event.code);
    });
  }

  // Forget the current socket; its late events are ignored by id.
  function dropSocket() {
    var socket = state.socket;
    state.socket = null;
    state.socketId += 1;
    state.historyPending = [];
    state.gapInFlight = false;
    state.loadingOlder = false;
    if (state.heartbeat) state.heartbeat.stop();
    if (socket && socket.readyState <= WebSocket.OPEN) {
      try { socket.close(); } catch (ignored) { /* already closing */ }
    }
  }

  function onClose(code) {
    dropSocket();
    if (state.leaving) return;
    if (code === 4401) {
      setPhase("gone", "Signed out: taking you to the login page…");
      var login = el.room.dataset.loginUrl || "/accounts/login/";
      location.assign(login + "?next=" + encodeURIComponent(location.pathname));
      return;
    }
    if (code === 4403 || code === 4404) {
      setPhase("gone", "You no longer have access to this room.");
      el.body.disabled = true;
      el.form.querySelector("button[type=submit]").disabled = true;
      showError("You no longer have access to this room.", true);
      return;
    }
    if (code === 4413) showError("The server closed the connection: a frame was too large.");
    if (code === 4429) {
      showError("Too many messages too fast: the server paused you for a moment.");
      state.attempts = Math.max(state.attempts, 5);
    }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdownTimer);
    var base = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * Math.pow(2, state.attempts));
    var delay = Math.round(base / 2 + Math.random() * base / 2);
    state.attempts += 1;
    state.retryAt = Date.now() + delay;
    state.retryTimer = setTimeout(connect, delay);
    setPhase("waiting");
    state.countdownTimer = setInterval(showWaiting, 1000);
  }

  function retryNow() {
    if (state.phase === "waiting") connect();
  }

  function startHeartbeat() {
    if (state.heartbeat) state.heartbeat.stop();
    // A socket that stops answering is dead even if the browser hasn't noticed.
    state.heartbeat = window.RelayHeartbeat(send, function () { onClose(1006); });
  }

  // ---- Connection status ----------------------------------------------------------

  function setPhase(phase, text) {
    state.phase = phase;
    el.connection.dataset.state = phase;
    el.retry.hidden = phase !== "waiting";
    el.members.classList.toggle("stale", phase !== "connected");
    if (phase === "connecting") el.connection.textContent = "Connecting…";
    else if (phase === "connected") el.connection.textContent = "Connected";
    else if (phase === "waiting") showWaiting();
    else el.connection.textContent = text || "";
  }

  function showWaiting() {
    if (state.phase !== "waiting") return;
    var seconds = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
    var offline = navigator.onLine === false;
    el.connection.dataset.state = offline ? "offline" : "waiting";
    el.connection.textContent = (offline ? "Offline · retrying in " : "Reconnecting in ") +
      seconds + " s";
  }

  // ---- Frames from the server -----------------------------------------------------

  var handlers = {
    hello: onHello,
    message: function (frame) { addMessages([frame.message], "live"); },
    history: onHistory,
    typing: onTyping,
    presence: function (frame) { showOnline(frame.online || [], frame.online_count); },
    error: onError,
    pong: function () { if (state.heartbeat) state.heartbeat.pong(); },
  };

  function onFrame(text) {
    var frame;
    try {
      frame = JSON.parse(text);
    } catch (ignored) {
      return;
    }
    var handler = frame && handlers[frame.type];
    if (handler) handler(frame);
  }

  function onHello(frame) {
    if ((frame.last_seq || 0) < state.contiguous) {
      // The room has fewer messages than this page shows (data was reset): start over.
      location.reload();
      return;
    }
    state.attempts = 0;
    setPhase("connected");
    // With `truncated`, hello holds only the newest of what was missed: the hole
    // below them is paged back with `history` by the gap filler.
    state.knownLast = Math.max(state.knownLast, frame.last_seq || 0);
    addMessages(frame.messages || [], "live");
    showOnline(frame.online || [], frame.online_count);
    startHeartbeat();
    flushOutbox();
    scheduleGapFill();
    scheduleRead();
  }

  // The request a `history` reply answers: the one with the before_seq it echoes
  // (a server too old to echo it answers in order: the oldest request).
  function takeHistoryRequest(frame) {
    var pending = state.historyPending;
    var index = -1;
    if (frame.before_seq === undefined) {
      index = pending.length ? 0 : -1;
    } else {
      for (var i = 0; i < pending.length; i++) {
        if (pending[i].beforeSeq === frame.before_seq) {
          index = i;
          break;
        }
      }
    }
    return index < 0 ? null : pending.splice(index, 1)[0];
  }

  function onHistory(frame) {
    var request = takeHistoryRequest(frame);
    var messages = frame.messages || [];
    if (!request) {
      // Not asked for on this connection: keep what it holds, draw no conclusions.
      addMessages(messages, "live");
      return;
    }
    if (request.kind === "older") {
      state.loadingOlder = false;
      state.hasMore = Boolean(frame.has_more);
      addMessages(messages, "older");
      showOlderButton();
    } else {
      state.gapInFlight = false;
      for (var seq = request.from; seq <= request.to; seq++) {
        if (!messages.some(function (m) { return m.seq === seq; })) absent.add(seq);
      }
      addMessages(messages, "live");
      scheduleGapFill();
    }
  }

  function onError(frame) {
    if (frame.code === "rate_limited" && "before_seq" in frame) {
      retryHistory(frame);
      return;
    }
    var item = frame.client_id && findOutbox(frame.client_id);
    if (item && frame.code === "rate_limited") {
      // Unsent: goes again, then everything after it, once retry_after has passed.
      // The server refuses what this socket sent right behind it too, so the
      // order holds.
      item.sentOn = null;
      pauseOutbox(frame.retry_after);
      return;
    }
    if (item) {
      // The server will never take this one: drop it and give the text back.
      removeOutbox(item);
      if (!el.body.value) el.body.value = item.body;
    }
    showError(frame.detail || "Something went wrong.");
  }

  // ---- Filling holes and paging back -----------------------------------------------

  function scheduleGapFill() {
    if (state.gapTimer || state.knownLast <= state.contiguous) return;
    // Live frames may arrive out of order for a moment; give the late ones a chance.
    state.gapTimer = setTimeout(function () {
      state.gapTimer = null;
      fillGap();
    }, GAP_GRACE_MS);
  }

  function fillGap() {
    if (state.gapInFlight || state.phase !== "connected" || state.knownLast <= state.contiguous) return;
    var index = insertIndex(state.contiguous + 1);
    var nextShown = index < seqs.length ? seqs[index] : state.knownLast + 1;
    var missing = nextShown - state.contiguous - 1;
    if (missing <= 0) return;
    if (requestHistory("gap", nextShown, Math.min(HISTORY_MAX, missing))) state.gapInFlight = true;
  }

  function loadOlder() {
    if (!state.hasMore || state.loadingOlder || state.phase !== "connected") return;
    var lowest = seqs.length ? seqs[0] : state.contiguous + 1;
    if (requestHistory("older", lowest, HISTORY_PAGE)) {
      state.loadingOlder = true;
      if (el.older) el.older.textContent = "Loading…";
    }
  }

  function requestHistory(kind, beforeSeq, limit) {
    if (!send({ type: "history", before_seq: beforeSeq, limit: limit })) return false;
    state.historyPending.push({
      beforeSeq: beforeSeq, kind: kind, from: beforeSeq - limit, to: beforeSeq - 1,
    });
    return true;
  }

  // A `history` request refused by the rate limit (it echoes the request's
  // before_seq): the same request again on this socket once retry_after has passed.
  function retryHistory(frame) {
    var request = takeHistoryRequest(frame);
    if (!request) return;
    var socketId = state.socketId;
    setTimeout(function () {
      // A new socket forgot its requests: hello fills the gaps afresh.
      if (state.socketId !== socketId) return;
      var limit = request.to - request.from + 1;
      if (requestHistory(request.kind, request.beforeSeq, limit)) return;
      if (request.kind === "older") {
        state.loadingOlder = false;
        showOlderButton();
      } else {
        state.gapInFlight = false;
      }
    }, rateLimitWait(frame.retry_after));
  }

  function showOlderButton() {
    if (!el.older) return;
    el.older.textContent = "Load older messages";
    el.older.closest("li").hidden = !state.hasMore;
  }

  // ---- Outbox ---------------------------------------------------------------------

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return "c-" + crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return "c-" + Array.prototype.map.call(bytes, function (b) {
      return (b + 256).toString(16).slice(1);
    }).join("");
  }

  function queueMessage(body) {
    var item = { clientId: newClientId(), body: body, li: null, sentOn: null };
    item.li = pendingNode(item);
    outbox.push(item);
    el.list.appendChild(item.li);
    removeEmptyNote();
    removeDivider();
    scrollToBottom();
    flushOutbox();
  }

  // Send every item not yet sent on this connection, oldest first; nothing while
  // the outbox is paused by a rate limit (a later message must not overtake).
  function flushOutbox() {
    if (Date.now() < state.outboxPausedUntil) {
      showPaused();
      return;
    }
    if (!outbox.length) state.outboxOneByOne = false;
    for (var i = 0; i < outbox.length; i++) {
      var item = outbox[i];
      if (item.sentOn === state.socketId) {
        if (state.outboxOneByOne) return; // wait for its echo before the next
        continue;
      }
      if (!send({ type: "send", body: item.body, client_id: item.clientId })) return;
      item.sentOn = state.socketId;
      setPendingStatus(item, "sending…");
      // The limit lets messages through one by one as older sends leave its
      // window: a batch would be refused again, and could come back out of order.
      if (state.outboxOneByOne) return;
    }
  }

  // Hold every unsent item for the `retry_after` seconds the server named (a
  // little longer, so that tabs sharing the limit don't all retry at once), then
  // flush.
  function pauseOutbox(retryAfter) {
    var wait = rateLimitWait(retryAfter);
    var until = Date.now() + wait;
    if (until > state.outboxPausedUntil) {
      state.outboxPausedUntil = until;
      clearTimeout(state.outboxTimer);
      state.outboxTimer = setTimeout(function () {
        state.outboxTimer = null;
        hideError();
        state.outboxOneByOne = true;
        flushOutbox();
      }, wait);
    }
    showPaused();
  }

  // Milliseconds to wait for the `retry_after` seconds a rate_limited error names.
  function rateLimitWait(retryAfter) {
    var known = typeof retryAfter === "number" && isFinite(retryAfter) && retryAfter >= 0;
    var wait = known ? retryAfter * 1000 : RATE_LIMIT_WAIT_MS;
    return Math.min(RATE_LIMIT_WAIT_MAX_MS, wait) + 100 + Math.round(Math.random() * 200);
  }

  // Say why the unsent items wait, on them and under the composer.
  function showPaused() {
    outbox.forEach(function (item) {
      if (item.sentOn !== state.socketId) setPendingStatus(item, "waiting…");
    });
    var seconds = Math.max(1, Math.ceil((state.outboxPausedUntil - Date.now()) / 1000));
    showError("Sending too fast: sending again in " + seconds + " s.", true);
  }

  function setPendingStatus(item, text) {
    var status = item.li.querySelector(".status");
    if (status) status.textContent = text;
  }

  function findOutbox(clientId) {
    for (var i = 0; i < outbox.length; i++) {
      if (outbox[i].clientId === clientId) return outbox[i];
    }
    return null;
  }

  function removeOutbox(item) {
    outbox.splice(outbox.indexOf(item), 1);
    item.li.remove();
  }

  function confirmOutbox(message) {
    if (message.author.id !== me.id || !message.client_id) return;
    var item = findOutbox(message.client_id);
    if (!item) return;
    removeOutbox(item);
    if (state.outboxOneByOne) flushOutbox();
  }

  // ---- Composer -------------------------------------------------------------------

  function onSubmit(event) {
    event.preventDefault();
    var body = el.body.value.trim();
    if (!body) return;
    if (body.length > MAX_BODY) {
      showError("A message is at most " + MAX_BODY + " characters (this one has " + body.length + ").");
      return;
    }
    el.body.value = "";
    hideError();
    queueMessage(body);
  }

  function onKeydown(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (el.form.requestSubmit) el.form.requestSubmit();
      else onSubmit(event);
    }
  }

  function onInput() {
    var now = Date.now();
    if (!el.body.value.trim() || now - state.lastTypingSent < TYPING_SEND_EVERY_MS) return;
    if (send({ type: "typing" })) state.lastTypingSent = now;
  }

  function showError(text, sticky) {
    clearTimeout(state.errorTimer);
    el.error.textContent = text;
    el.error.hidden = false;
    if (!sticky) state.errorTimer = setTimeout(hideError, 8000);
  }

  function hideError() {
    if (state.phase === "gone") return;
    el.error.hidden = true;
    el.error.textContent = "";
  }

  // ---- Typing indicator ----------------------------------------------------------

  function onTyping(frame) {
    var user = frame.user;
    if (!user || user.id === me.id) return;
    clearTyper(user.id);
    var timer = setTimeout(function () { clearTyper(user.id); }, TYPING_SHOW_MS);
    state.typers.set(user.id, { name: user.username, timer: timer });
    showTypers();
  }

  function clearTyper(userId) {
    var typer = state.typers.get(userId);
    if (!typer) return;
    clearTimeout(typer.timer);
    state.typers.delete(userId);
    showTypers();
  }

  function showTypers() {
    var names = Array.from(state.typers.values()).map(function (t) { return t.name; });
    var text = "";
    if (names.length === 1) text = names[0] + " is typing…";
    else if (names.length === 2) text = names[0] + " and " + names[1] + " are typing…";
    else if (names.length > 2) text = "Several people are typing…";
    el.typing.textContent = text;
  }

  // ---- Members and presence ---------------------------------------------------------

  function memberItem(user) {
    var li = el.members.querySelector('li[data-user-id="' + Number(user.id) + '"]');
    if (li) return li;
    // Someone reading a public room without being a member.
    li = make("li", "visitor");
    li.dataset.userId = user.id;
    var dot = make("span", "dot");
    dot.setAttribute("aria-hidden", "true");
    li.appendChild(dot);
    li.appendChild(make("span", "name", user.username));
    li.appendChild(make("span", "role muted", "visiting"));
    el.members.appendChild(li);
    return li;
  }

  // `online` lists at most 100 of them; `count` says how many there are in all.
  function showOnline(online, count) {
    var ids = new Set();
    online.forEach(function (user) {
      ids.add(String(user.id));
      memberItem(user);
    });
    Array.prototype.forEach.call(el.members.querySelectorAll("li[data-user-id]"), function (li) {
      var isOnline = ids.has(li.dataset.userId);
      if (!isOnline && li.classList.contains("visitor")) {
        li.remove();
        return;
      }
      li.classList.toggle("online", isOnline);
      var status = li.querySelector(".presence");
      if (!status) {
        status = make("span", "presence visually-hidden");
        li.appendChild(status);
      }
      status.textContent = isOnline ? " (online)" : " (offline)";
    });
    if (typeof count !== "number" || count < ids.size) count = ids.size;
    if (el.onlineCount) el.onlineCount.textContent = count + " online";
  }

  // ---- Wiring ---------------------------------------------------------------------

  function onScroll() {
    if (el.list.scrollTop < 80) loadOlder();
    scheduleRead();
  }

  function start() {
    adoptServerRendered();
    if (config.lastReadSeq < state.contiguous) placeDivider(config.lastReadSeq);
    initialScroll();
    showOlderButton();
    el.form.addEventListener("submit", onSubmit);
    el.body.addEventListener("keydown", onKeydown);
    el.body.addEventListener("input", onInput);
    el.list.addEventListener("scroll", onScroll, { passive: true });
    if (el.older) el.older.addEventListener("click", loadOlder);
    el.retry.addEventListener("click", retryNow);
    window.addEventListener("online", retryNow);
    window.addEventListener("offline", showWaiting);
    window.addEventListener("focus", scheduleRead);
    document.addEventListener("visibilitychange", function () {
      scheduleRead();
      if (document.visibilityState === "visible") retryNow();
    });
    window.addEventListener("pagehide", function () {
      state.leaving = true;
      dropSocket();
    });
    window.addEventListener("pageshow", function (event) {
      // Back from the back/forward cache: the old socket is gone.
      if (event.persisted) {
        state.leaving = false;
        connect();
      }
    });
    connect();
  }

  start();
})();
