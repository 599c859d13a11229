// One WebSocket that stays up: every socket of the page (the room's, the bell's)
// reconnects, pings and reads close codes through this class (docs/protocol.md).
//
//   connecting --open--> open --close / late pong--> waiting --backoff timer,
//   back online, page visible again--> connecting
//   any --4401 / 4403 / 4404--> stopped (never reconnects)
//
// The caller builds the URL for each attempt (so it can resume with ?after=),
// and says when the server greeted it (established()): only then does the
// backoff start over, so a server that accepts and closes at once is not
// hammered.

export const CloseCode = Object.freeze({
  GOING_AWAY: 1001,
  ABNORMAL: 1006,
  NOT_LOGGED_IN: 4401,
  FORBIDDEN: 4403,
  NOT_FOUND: 4404,
  IDLE: 4408,
  TOO_LARGE: 4413,
  FLOODING: 4429,
  UNAVAILABLE: 4503,
});

const BACKOFF_FIRST_MS = 500;
const BACKOFF_CAP_MS = 30000;
// After 4429 the server wants fewer attempts: start the backoff this far along.
const FLOODING_MIN_ATTEMPTS = 5;

// Exponential backoff with jitter: half the ceiling, plus up to the other half at
// random, so a restarted server is not hit by every tab at the same moment.
export function backoffDelay(attempt, random = Math.random, firstMs = BACKOFF_FIRST_MS) {
  const ceiling = Math.min(BACKOFF_CAP_MS, firstMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

// What a close code means for the next attempt. `reason` names it for the caller's
// message; `minAttempts` makes the backoff at least that long.
export function closeDecision(code) {
  switch (code) {
    case CloseCode.NOT_LOGGED_IN:
      return { reconnect: false, reason: "signed-out" };
    case CloseCode.FORBIDDEN:
    case CloseCode.NOT_FOUND:
      return { reconnect: false, reason: "no-access" };
    case CloseCode.TOO_LARGE:
      return { reconnect: true, reason: "too-large" };
    case CloseCode.FLOODING:
      return { reconnect: true, reason: "flooding", minAttempts: FLOODING_MIN_ATTEMPTS };
    default:
      // 1001 going away, 1006 lost, 4408 idle, 4503 unavailable: resume after a pause.
      return { reconnect: true, reason: "lost" };
  }
}

const browserClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (timer) => clearTimeout(timer),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (timer) => clearInterval(timer),
};

const ignore = () => {};

export class ReconnectingSocket {
  constructor({
    url,
    pingIntervalMs,
    pongTimeoutMs,
    backoffFirstMs = BACKOFF_FIRST_MS,
    WebSocketClass = globalThis.WebSocket,
    clock = browserClock,
    random = Math.random,
    onConnecting = ignore,
    onOpen = ignore,
    onFrame = ignore,
    onClose = ignore,
    onWaiting = ignore,
  }) {
    Object.assign(this, { url, pingIntervalMs, pongTimeoutMs, backoffFirstMs });
    Object.assign(this, { WebSocketClass, clock, random });
    Object.assign(this, { onConnecting, onOpen, onFrame, onClose, onWaiting });
    this.state = "idle";
    this.socket = null;
    // Counts sockets: what was sent on an older one may never have arrived.
    this.generation = 0;
    this.attempts = 0;
    this.retryAt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.suspended = false;
  }

  get isOpen() {
    return this.state === "open";
  }

  connect() {
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.state === "stopped" || this.suspended) return;
    this.drop();
    this.state = "connecting";
    this.onConnecting();
    let socket;
    try {
      socket = new this.WebSocketClass(this.url());
    } catch {
      this.closed(CloseCode.ABNORMAL);
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      if (this.socket === socket) this.opened();
    });
    socket.addEventListener("message", (event) => {
      if (this.socket === socket) this.received(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket === socket) this.closed(event.code);
    });
  }

  // Returns whether the frame went out: nothing is queued here.
  send(frame) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  established() {
    this.attempts = 0;
  }

  // Back online, the page visible again, or "Retry now": skip the rest of the wait.
  reconnectNow() {
    if (this.state === "waiting") this.connect();
  }

  // The page goes into the back/forward cache: no socket while it sleeps there.
  suspend() {
    this.suspended = true;
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.drop();
    this.state = "idle";
  }

  resume() {
    this.suspended = false;
    this.connect();
  }

  listenToPage(win = window, doc = document) {
    win.addEventListener("online", () => this.reconnectNow());
    doc.addEventListener("visibilitychange", () => {
      if (doc.visibilityState === "visible") this.reconnectNow();
    });
    win.addEventListener("pagehide", () => this.suspend());
    win.addEventListener("pageshow", (event) => {
      if (event.persisted) this.resume();
    });
  }

  opened() {
    this.state = "open";
    // A half-open connection (a laptop waking up, a NAT that forgot us) looks
    // open forever: only a missing pong tells. The pings also keep a quiet
    // socket under the server's idle limit.
    this.pingTimer = this.clock.setInterval(() => this.ping(), this.pingIntervalMs);
    this.onOpen();
  }

  ping() {
    if (!this.send({ type: "ping" }) || this.pongTimer !== null) return;
    this.pongTimer = this.clock.setTimeout(() => this.closed(CloseCode.ABNORMAL), this.pongTimeoutMs);
  }

  received(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (!frame || typeof frame.type !== "string") return;
    if (frame.type === "pong") {
      this.clock.clearTimeout(this.pongTimer);
      this.pongTimer = null;
      return;
    }
    this.onFrame(frame);
  }

  closed(code) {
    this.drop();
    const decision = closeDecision(code);
    if (!decision.reconnect) this.state = "stopped";
    else if (decision.minAttempts) this.attempts = Math.max(this.attempts, decision.minAttempts);
    this.onClose(code, decision);
    if (decision.reconnect) this.scheduleReconnect();
  }

  scheduleReconnect() {
    const delay = backoffDelay(this.attempts, this.random, this.backoffFirstMs);
    this.attempts += 1;
    this.state = "waiting";
    this.retryAt = this.clock.now() + delay;
    this.retryTimer = this.clock.setTimeout(() => this.connect(), delay);
    this.onWaiting(this.retryAt);
  }

  // Forget the current socket; its late events are ignored.
  drop() {
    const socket = this.socket;
    this.socket = null;
    this.generation += 1;
    this.clock.clearInterval(this.pingTimer);
    this.clock.clearTimeout(this.pongTimer);
    this.pingTimer = null;
    this.pongTimer = null;
    if (socket && socket.readyState <= this.WebSocketClass.OPEN) {
      try {
        socket.close();
      } catch {
        // Closing already.
      }
    }
  }
}
