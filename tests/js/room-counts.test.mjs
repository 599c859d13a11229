import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { RoomCount, titleWithCount, totalUnread, unreadLabel } from "../../static/js/room-counts.js";

describe("RoomCount", () => {
  it("counts each message after the page's count once, whatever the order", () => {
    const count = new RoomCount({ readSeq: 3, unread: 2, throughSeq: 5 });
    assert.equal(count.message(7, false), true);
    assert.equal(count.message(6, false), false); // older than the newest heard of
    assert.equal(count.message(7, false), false); // again
    assert.equal(count.unread, 4);
  });

  it("ignores messages the page's count had already", () => {
    const count = new RoomCount({ readSeq: 3, unread: 2, throughSeq: 5 });
    count.message(5, false);
    assert.equal(count.unread, 2);
  });

  it("counts messages, not seqs: a gap of other events adds nothing", () => {
    const count = new RoomCount({ readSeq: 0, unread: 0, throughSeq: 0 });
    count.message(4, false); // seqs 1-3 were edits and reactions
    assert.equal(count.unread, 1);
  });

  it("reads up to one's own message", () => {
    const count = new RoomCount({ readSeq: 1, unread: 3, throughSeq: 4 });
    count.message(6, false);
    count.message(5, true);
    assert.equal(count.unread, 1); // 6 came after
    assert.equal(count.readSeq, 5);
  });

  it("takes the server's count from a read mark, keeping messages counted after it", () => {
    const count = new RoomCount({ readSeq: 0, unread: 5, throughSeq: 5 });
    count.message(6, false);
    count.message(8, false);
    count.read({ seq: 4, unread: 2, throughSeq: 6 });
    assert.equal(count.unread, 3); // 5 and 6 by the server, 8 on top
    assert.equal(count.readSeq, 4);
  });

  it("ignores a count older than the one it has", () => {
    const count = new RoomCount({ readSeq: 5, unread: 0, throughSeq: 9 });
    count.read({ seq: 2, unread: 4, throughSeq: 6 });
    assert.equal(count.unread, 0);
    assert.equal(count.readSeq, 5);
  });
});

describe("totals and labels", () => {
  it("adds the rooms up and shows at most 999", () => {
    const counts = new Map([
      ["a", new RoomCount({ unread: 2 })],
      ["b", new RoomCount({ unread: 3 })],
    ]);
    assert.equal(totalUnread(counts), 5);
    assert.equal(unreadLabel(999), "999");
    assert.equal(unreadLabel(1000), "999+");
  });

  it("puts the total in front of the title, only when there is one", () => {
    assert.equal(titleWithCount("Rooms · Relay", 3), "(3) Rooms · Relay");
    assert.equal(titleWithCount("Rooms · Relay", 0), "Rooms · Relay");
  });
});
