import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { interpolate, PinnedList, pinSummary, SlowModeClock } from "../../static/js/moderation-state.js";

const msg = (id, seq, extra = {}) => ({ id, seq, body: `m${id}`, deleted: false, author: { id: 1, username: "a" }, ...extra });
const update = (seq, kind, message) => ({ type: "update", seq, kind, message });

describe("PinnedList", () => {
  it("starts from hello's list, newest pin first", () => {
    const pins = new PinnedList();
    pins.reset([msg(3, 3), msg(1, 1)], 10);
    assert.deepEqual(pins.list().map((m) => m.id), [3, 1]);
    assert.ok(pins.has(3));
    assert.equal(pins.has(2), false);
  });

  it("puts a new pin first and drops an unpinned one", () => {
    const pins = new PinnedList();
    pins.reset([msg(1, 1)], 5);
    assert.equal(pins.apply(update(6, "pin", msg(2, 2))), true);
    assert.deepEqual(pins.list().map((m) => m.id), [2, 1]);
    assert.equal(pins.apply(update(7, "unpin", msg(1, 1))), true);
    assert.deepEqual(pins.list().map((m) => m.id), [2]);
  });

  it("ignores frames hello already covers, so a resume's replay can't undo newer state", () => {
    const pins = new PinnedList();
    // Pinned at 4, unpinned at 6: hello (last_seq 6) lists nothing; the replayed pin must not bring it back.
    pins.reset([], 6);
    assert.equal(pins.apply(update(4, "pin", msg(1, 1))), false);
    assert.equal(pins.length, 0);
  });

  it("ignores an older frame of a message than the one applied", () => {
    const pins = new PinnedList();
    pins.reset([], 0);
    pins.apply(update(9, "unpin", msg(1, 1)));
    assert.equal(pins.apply(update(8, "pin", msg(1, 1))), false);
    assert.equal(pins.length, 0);
  });

  it("keeps a pinned message's state current and drops it when deleted", () => {
    const pins = new PinnedList();
    pins.reset([msg(1, 1)], 2);
    assert.equal(pins.apply(update(3, "edit", msg(1, 1, { body: "fixed" }))), true);
    assert.equal(pins.list()[0].excerpt, "fixed");
    assert.equal(pins.apply(update(4, "delete", msg(1, 1, { body: "", deleted: true }))), true);
    assert.equal(pins.length, 0);
  });

  it("is not changed by updates of messages that are not pinned", () => {
    const pins = new PinnedList();
    pins.reset([msg(1, 1)], 2);
    assert.equal(pins.apply(update(3, "reaction", msg(5, 2))), false);
    assert.equal(pins.apply({ type: "update", kind: "pin" }), false);
    assert.deepEqual(pins.list().map((m) => m.id), [1]);
  });

  it("does not pin a deleted message", () => {
    const pins = new PinnedList();
    pins.reset([], 0);
    assert.equal(pins.apply(update(3, "pin", msg(1, 1, { deleted: true }))), false);
    assert.equal(pins.length, 0);
  });
});

describe("SlowModeClock", () => {
  function clockAt(start = 1_000_000) {
    let now = start;
    const clock = new SlowModeClock(() => now);
    return { clock, advance: (ms) => { now += ms; }, now: () => now };
  }

  it("counts down from the server's retry_after, rounding up", () => {
    const { clock, advance } = clockAt();
    clock.setMode(30, false);
    clock.refused(7.2);
    assert.equal(clock.secondsLeft(), 8);
    assert.ok(clock.waiting());
    advance(7100);
    assert.equal(clock.secondsLeft(), 1);
    advance(100);
    assert.equal(clock.secondsLeft(), 0);
    assert.equal(clock.waiting(), false);
  });

  it("starts the whole wait when one's own message is stored", () => {
    const { clock, advance, now } = clockAt();
    clock.setMode(10, false);
    clock.sent(now() - 2000); // stored 2 s ago (the echo took a while)
    assert.equal(clock.secondsLeft(), 8);
    advance(8000);
    assert.equal(clock.secondsLeft(), 0);
  });

  it("never waits when slow mode is off or the user is exempt", () => {
    const { clock } = clockAt();
    clock.setMode(0, false);
    clock.sent();
    assert.equal(clock.secondsLeft(), 0);
    clock.setMode(60, true);
    clock.sent();
    assert.equal(clock.secondsLeft(), 0);
  });

  it("stops waiting when slow mode is turned off", () => {
    const { clock } = clockAt();
    clock.setMode(60, false);
    clock.sent();
    assert.equal(clock.secondsLeft(), 60);
    clock.setMode(0);
    assert.equal(clock.secondsLeft(), 0);
  });

  it("ignores a retry_after that is not a positive number", () => {
    const { clock } = clockAt();
    clock.setMode(30, false);
    clock.refused(undefined);
    clock.refused(-3);
    assert.equal(clock.secondsLeft(), 0);
  });
});

describe("interpolate", () => {
  it("fills named placeholders and leaves unknown ones", () => {
    assert.equal(interpolate("wait %(seconds)s s", { seconds: 4 }), "wait 4 s");
    assert.equal(interpolate("%(x)s and %(y)s", { x: "<b>" }), "<b> and %(y)s");
  });
});

describe("pinSummary", () => {
  it("keeps hello's entries and cuts an update's body as the server does", () => {
    const entry = { id: 1, seq: 2, author: { id: 1 }, excerpt: "short", created_at: "t" };
    assert.equal(pinSummary(entry), entry);
    const long = pinSummary(msg(2, 3, { body: "x".repeat(200) }));
    assert.equal(long.excerpt.length, 140);
    assert.ok(long.excerpt.endsWith("…"));
    assert.equal(pinSummary(msg(3, 4, { body: "hi" })).excerpt, "hi");
  });
});
