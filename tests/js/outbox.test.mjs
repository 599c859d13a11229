import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Outbox, rateLimitWait } from "../../static/js/outbox.js";

function outboxAt(clock) {
  return new Outbox({ now: () => clock.time, random: () => 0 });
}

// Flush on socket `generation`, recording the bodies sent.
function flush(outbox, generation, sent, connected = true) {
  outbox.flush(generation, (item) => {
    if (connected) sent.push(item.body);
    return connected;
  });
}

describe("rateLimitWait", () => {
  it("waits a little past retry_after, spread at random", () => {
    assert.equal(rateLimitWait(2.5, () => 0), 2600);
    assert.equal(rateLimitWait(2.5, () => 1), 2800);
  });

  it("waits 5 s when retry_after is missing or nonsense, and at most a minute", () => {
    for (const retryAfter of [undefined, null, "3", -1, Number.NaN, Infinity]) {
      assert.equal(rateLimitWait(retryAfter, () => 0), 5100, String(retryAfter));
    }
    assert.equal(rateLimitWait(3600, () => 0), 60100);
  });
});

describe("Outbox", () => {
  it("sends every pending item once per socket, oldest first", () => {
    const outbox = outboxAt({ time: 0 });
    const sent = [];
    ["a", "b"].forEach((body) => outbox.add(body));
    flush(outbox, 1, sent);
    outbox.add("c");
    flush(outbox, 1, sent);
    assert.deepEqual(sent, ["a", "b", "c"]);
    flush(outbox, 2, sent);
    assert.deepEqual(sent, ["a", "b", "c", "a", "b", "c"], "again on a new socket, same order");
  });

  it("keeps items unsent while disconnected", () => {
    const outbox = outboxAt({ time: 0 });
    const sent = [];
    outbox.add("a");
    flush(outbox, 1, sent, false);
    assert.deepEqual(outbox.unsentOn(1).map((item) => item.body), ["a"]);
    flush(outbox, 1, sent);
    assert.deepEqual(sent, ["a"]);
  });

  it("forgets an item once its echo arrives, by client_id", () => {
    const outbox = outboxAt({ time: 0 });
    const item = outbox.add("a", "c-1");
    outbox.add("b", "c-2");
    assert.equal(outbox.confirm("c-1"), item);
    assert.equal(outbox.confirm("c-1"), null);
    assert.equal(outbox.confirm(undefined), null);
    assert.deepEqual(outbox.items.map((i) => i.clientId), ["c-2"]);
  });

  it("gives new items distinct client ids", () => {
    const outbox = outboxAt({ time: 0 });
    const ids = new Set(Array.from({ length: 20 }, () => outbox.add("x").clientId));
    assert.equal(ids.size, 20);
    ids.forEach((id) => assert.match(id, /^c-[0-9a-f-]{32,36}$/));
  });

  it("pauses after rate_limited, then resends one at a time in order", () => {
    const clock = { time: 0 };
    const outbox = outboxAt(clock);
    const sent = [];
    const items = ["a", "b", "c", "d"].map((body, n) => outbox.add(body, `c-${n}`));
    flush(outbox, 1, sent);
    outbox.confirm("c-0");
    // The server refused b, and so c and d sent right behind it.
    assert.equal(outbox.refuse(items[1], 2), 2100);
    assert.equal(outbox.refuse(items[2], 1.9), null, "the running pause covers it");
    assert.equal(outbox.refuse(items[3], 1.8), null);
    assert.equal(outbox.paused, true);
    assert.equal(outbox.secondsLeft, 3);
    assert.deepEqual(outbox.unsentOn(1).map((item) => item.body), ["b", "c", "d"]);

    sent.length = 0;
    clock.time = 1000;
    flush(outbox, 1, sent);
    assert.deepEqual(sent, [], "nothing overtakes while paused");

    clock.time = 2100;
    outbox.resume();
    flush(outbox, 1, sent);
    assert.deepEqual(sent, ["b"], "one in flight");
    flush(outbox, 1, sent);
    assert.deepEqual(sent, ["b"], "still waiting for b's echo");
    outbox.confirm("c-1");
    flush(outbox, 1, sent);
    outbox.confirm("c-2");
    flush(outbox, 1, sent);
    assert.deepEqual(sent, ["b", "c", "d"]);
    outbox.confirm("c-3");
    flush(outbox, 1, sent);
    assert.equal(outbox.oneByOne, false, "back to sending freely once empty");
  });

  it("extends the pause when a later refusal names a longer wait", () => {
    const clock = { time: 0 };
    const outbox = outboxAt(clock);
    const item = outbox.add("a");
    outbox.refuse(item, 1);
    clock.time = 500;
    assert.equal(outbox.refuse(item, 4), 4100);
    assert.equal(outbox.pausedUntil, 4600);
  });
});
