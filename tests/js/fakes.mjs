// Test doubles for ReconnectingSocket: a clock the test moves by hand, and a
// WebSocket class whose instances the test opens, feeds and closes.

export class FakeClock {
  constructor() {
    this.time = 0;
    this.nextId = 1;
    this.timers = new Map(); // id -> {at, callback, every}
  }

  now() {
    return this.time;
  }

  setTimeout(callback, ms) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback, every: null });
    return id;
  }

  setInterval(callback, ms) {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, callback, every: ms });
    return id;
  }

  clearTimeout(id) {
    this.timers.delete(id);
  }

  clearInterval(id) {
    this.timers.delete(id);
  }

  // Run every timer due within `ms`, in time order.
  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      let nextId = null;
      let next = null;
      for (const [id, timer] of this.timers) {
        if (timer.at <= end && (next === null || timer.at < next.at)) {
          nextId = id;
          next = timer;
        }
      }
      if (next === null) break;
      this.time = next.at;
      if (next.every === null) this.timers.delete(nextId);
      else next.at += next.every;
      next.callback();
    }
    this.time = end;
  }
}

export function fakeWebSocketClass() {
  class FakeWebSocket {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;
    static instances = [];

    constructor(url) {
      this.url = url;
      this.readyState = FakeWebSocket.CONNECTING;
      this.sent = [];
      this.listeners = {};
      FakeWebSocket.instances.push(this);
    }

    addEventListener(type, listener) {
      (this.listeners[type] ||= []).push(listener);
    }

    emit(type, event = {}) {
      (this.listeners[type] || []).forEach((listener) => listener(event));
    }

    send(text) {
      this.sent.push(JSON.parse(text));
    }

    close() {
      this.readyState = FakeWebSocket.CLOSED;
      this.closedByClient = true;
    }

    // What the server side does.
    open() {
      this.readyState = FakeWebSocket.OPEN;
      this.emit("open");
    }

    receive(frame) {
      this.emit("message", { data: JSON.stringify(frame) });
    }

    serverClose(code) {
      this.readyState = FakeWebSocket.CLOSED;
      this.emit("close", { code });
    }

    static get last() {
      return FakeWebSocket.instances.at(-1);
    }
  }
  return FakeWebSocket;
}
