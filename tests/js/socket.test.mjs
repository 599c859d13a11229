import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { backoffDelay, closeDecision, CloseCode, ReconnectingSocket } from "../../static/js/socket.js";
import { FakeClock, fakeWebSocketClass } from "./fakes.mjs";

const PING_MS = 25000;
const PONG_MS = 10000;

function makeSocket(options = {}) {
  const clock = new FakeClock();
  const WebSocketClass = fakeWebSocketClass();
  const events = [];
  let attempt = 0;
  const socket = new ReconnectingSocket({
    url: () => `ws://test/ws/chat/room/?after=${attempt++}`,
    pingIntervalMs: PING_MS,
    pongTimeoutMs: PONG_MS,
    WebSocketClass,
    clock,
    random: () => 0.5,
    onFrame: (frame) => events.push(["frame", frame]),
    onClose: (code, decision) => events.push(["close", code, decision.reason]),
    onWaiting: (retryAt) => events.push(["waiting", retryAt]),
    ...options,
  });
  return { socket, clock, WebSocketClass, events };
}

describe("backoffDelay", () => {
  it("stays between half the ceiling and the ceiling, which doubles up to 30 s", () => {
    const ceilings = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000];
    ceilings.forEach((ceiling, attempt) => {
      assert.equal(backoffDelay(attempt, () => 0), ceiling / 2);
      assert.equal(backoffDelay(attempt, () => 0.999999), ceiling);
      const delay = backoffDelay(attempt);
      assert.ok(delay >= ceiling / 2 && delay <= ceiling, `${delay} for attempt ${attempt}`);
    });
  });

  it("starts from the first delay the caller asks for", () => {
    assert.equal(backoffDelay(0, () => 1, 1000), 1000);
    assert.equal(backoffDelay(1, () => 0, 1000), 1000);
  });

  it("spreads attempts at random", () => {
    const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(4)));
    assert.ok(delays.size > 10);
  });
});

describe("closeDecision", () => {
  it("stops for good when signed out, forbidden or the room is gone", () => {
    assert.deepEqual(closeDecision(4401), { reconnect: false, reason: "signed-out" });
    assert.equal(closeDecision(4403).reconnect, false);
    assert.equal(closeDecision(4404).reconnect, false);
  });

  it("reconnects after going away, a lost connection, idling, overload or a large frame", () => {
    for (const code of [1000, 1001, 1006, 4408, 4503, 4413, 4429]) {
      assert.equal(closeDecision(code).reconnect, true, code);
    }
    assert.equal(closeDecision(4413).reason, "too-large");
  });

  it("backs off longer after flooding", () => {
    assert.equal(closeDecision(CloseCode.FLOODING).minAttempts, 5);
    assert.equal(closeDecision(1006).minAttempts, undefined);
  });
});

describe("ReconnectingSocket", () => {
  it("connects to the URL the caller builds for each attempt", () => {
    const { socket, WebSocketClass } = makeSocket();
    socket.connect();
    WebSocketClass.last.serverClose(1006);
    socket.reconnectNow();
    assert.deepEqual(WebSocketClass.instances.map((ws) => ws.url), [
      "ws://test/ws/chat/room/?after=0",
      "ws://test/ws/chat/room/?after=1",
    ]);
  });

  it("sends only while open, and passes frames but pongs to the caller", () => {
    const { socket, WebSocketClass, events } = makeSocket();
    socket.connect();
    assert.equal(socket.send({ type: "typing" }), false);
    WebSocketClass.last.open();
    assert.equal(socket.send({ type: "typing" }), true);
    WebSocketClass.last.receive({ type: "pong" });
    WebSocketClass.last.receive({ type: "hello" });
    WebSocketClass.last.emit("message", { data: "not json" });
    WebSocketClass.last.receive(["no", "type"]);
    assert.deepEqual(events, [["frame", { type: "hello" }]]);
  });

  it("pings every interval and keeps a socket that answers", () => {
    const { socket, clock, WebSocketClass } = makeSocket();
    socket.connect();
    const ws = WebSocketClass.last;
    ws.open();
    clock.advance(PONG_MS - 1);
    for (let round = 1; round <= 3; round++) {
      clock.advance(PING_MS - PONG_MS + 1);
      assert.equal(ws.sent.length, round);
      assert.deepEqual(ws.sent.at(-1), { type: "ping" });
      clock.advance(PONG_MS - 1);
      ws.receive({ type: "pong" });
    }
    assert.equal(WebSocketClass.instances.length, 1);
    assert.equal(socket.state, "open");
  });

  it("drops a socket whose pong is late and reconnects after a backoff", () => {
    const { socket, clock, WebSocketClass, events } = makeSocket();
    socket.connect();
    const ws = WebSocketClass.last;
    ws.open();
    clock.advance(PING_MS);
    clock.advance(PONG_MS - 1);
    assert.equal(socket.state, "open");
    clock.advance(1);
    assert.equal(ws.closedByClient, true);
    assert.equal(socket.state, "waiting");
    assert.deepEqual(events[0], ["close", CloseCode.ABNORMAL, "lost"]);
    // random() is 0.5: three quarters of the first ceiling.
    clock.advance(374);
    assert.equal(WebSocketClass.instances.length, 1);
    clock.advance(1);
    assert.equal(WebSocketClass.instances.length, 2);
    // Late events of the dropped socket change nothing.
    ws.serverClose(1006);
    ws.receive({ type: "hello" });
    assert.equal(socket.state, "connecting");
    assert.equal(events.filter(([kind]) => kind === "frame").length, 0);
  });

  it("grows the backoff until the caller says the server greeted it", () => {
    const { socket, clock, WebSocketClass, events } = makeSocket({ random: () => 0 });
    socket.connect();
    const waits = [];
    for (let i = 0; i < 4; i++) {
      WebSocketClass.last.open();
      WebSocketClass.last.serverClose(4503);
      waits.push(socket.retryAt - clock.now());
      clock.advance(socket.retryAt - clock.now());
    }
    assert.deepEqual(waits, [250, 500, 1000, 2000]);
    WebSocketClass.last.open();
    socket.established();
    WebSocketClass.last.serverClose(1001);
    assert.equal(socket.retryAt - clock.now(), 250);
    assert.equal(events.filter(([kind]) => kind === "waiting").length, 5);
  });

  it("waits longer after 4429", () => {
    const { socket, clock, WebSocketClass } = makeSocket({ random: () => 0 });
    socket.connect();
    WebSocketClass.last.open();
    WebSocketClass.last.serverClose(4429);
    assert.equal(socket.retryAt - clock.now(), 8000);
  });

  it("never reconnects after 4401, 4403 or 4404", () => {
    for (const code of [4401, 4403, 4404]) {
      const { socket, clock, WebSocketClass, events } = makeSocket();
      socket.connect();
      WebSocketClass.last.open();
      WebSocketClass.last.serverClose(code);
      clock.advance(60000);
      socket.reconnectNow();
      socket.connect();
      assert.equal(WebSocketClass.instances.length, 1, code);
      assert.equal(socket.state, "stopped");
      assert.deepEqual(events.map(([kind]) => kind), ["close"]);
    }
  });

  it("reconnects at once when asked while waiting, not while connected", () => {
    const { socket, WebSocketClass } = makeSocket();
    socket.connect();
    WebSocketClass.last.open();
    socket.reconnectNow();
    assert.equal(WebSocketClass.instances.length, 1);
    WebSocketClass.last.serverClose(1001);
    socket.reconnectNow();
    assert.equal(WebSocketClass.instances.length, 2);
  });

  it("reconnects when the browser is back online or the page visible again", () => {
    const { socket, WebSocketClass } = makeSocket();
    const win = new EventTarget();
    const doc = new EventTarget();
    doc.visibilityState = "hidden";
    socket.listenToPage(win, doc);
    socket.connect();
    WebSocketClass.last.serverClose(1006);
    doc.dispatchEvent(new Event("visibilitychange"));
    assert.equal(WebSocketClass.instances.length, 1);
    doc.visibilityState = "visible";
    doc.dispatchEvent(new Event("visibilitychange"));
    assert.equal(WebSocketClass.instances.length, 2);
    WebSocketClass.last.serverClose(1006);
    win.dispatchEvent(new Event("online"));
    assert.equal(WebSocketClass.instances.length, 3);
  });

  it("holds no socket while the page sleeps in the back/forward cache", () => {
    const { socket, clock, WebSocketClass } = makeSocket();
    const win = new EventTarget();
    socket.listenToPage(win, new EventTarget());
    socket.connect();
    WebSocketClass.last.open();
    win.dispatchEvent(new Event("pagehide"));
    assert.equal(WebSocketClass.last.closedByClient, true);
    clock.advance(60000);
    assert.equal(WebSocketClass.instances.length, 1);
    const shown = new Event("pageshow");
    shown.persisted = true;
    win.dispatchEvent(shown);
    assert.equal(WebSocketClass.instances.length, 2);
  });

  it("counts a new generation for every socket dropped", () => {
    const { socket, WebSocketClass } = makeSocket();
    socket.connect();
    const first = socket.generation;
    WebSocketClass.last.serverClose(1006);
    assert.notEqual(socket.generation, first);
  });
});
