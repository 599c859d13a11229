import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { Timeline } from "../../static/js/timeline.js";

const HISTORY_MAX = 100;

function timelineWith(seqs, options) {
  const timeline = new Timeline(options);
  seqs.forEach((seq) => timeline.add(seq));
  timeline.advance();
  return timeline;
}

describe("Timeline ordering", () => {
  it("keeps seqs sorted whatever order they arrive in", () => {
    const timeline = timelineWith([5, 1, 3, 2, 4, 9, 7]);
    assert.deepEqual(timeline.seqs, [1, 2, 3, 4, 5, 7, 9]);
  });

  it("says where each seq goes, so its node follows the one before it", () => {
    const timeline = new Timeline();
    assert.equal(timeline.add(10), 0);
    assert.equal(timeline.add(30), 1);
    assert.equal(timeline.add(20), 1);
    assert.equal(timeline.add(5), 0);
  });

  it("drops duplicates and frames without a seq", () => {
    const timeline = timelineWith([1, 2]);
    assert.equal(timeline.add(2), -1);
    assert.equal(timeline.add(undefined), -1);
    assert.equal(timeline.add("3"), -1);
    assert.deepEqual(timeline.seqs, [1, 2]);
  });
});

describe("Timeline gaps", () => {
  it("moves contiguous up to the first hole only", () => {
    const timeline = timelineWith([1, 2, 3, 5, 6]);
    assert.equal(timeline.contiguous, 3);
    assert.equal(timeline.knownLast, 6);
    assert.equal(timeline.hasGap(), true);
    timeline.add(4);
    assert.equal(timeline.advance(), false);
    assert.equal(timeline.contiguous, 6);
  });

  it("starts from the seq the page was rendered up to", () => {
    const timeline = timelineWith([41, 42], { contiguous: 40 });
    assert.equal(timeline.contiguous, 42);
    assert.equal(timeline.hasGap(), false);
  });

  it("asks for the hole below the next seq shown", () => {
    const timeline = timelineWith([1, 2, 3, 8, 9]);
    assert.deepEqual(timeline.gapRequest(HISTORY_MAX), { kind: "gap", beforeSeq: 8, limit: 4 });
  });

  it("asks for a hole above everything shown when a later seq is only known", () => {
    const timeline = timelineWith([1, 2]);
    timeline.learnLast(6);
    assert.deepEqual(timeline.gapRequest(HISTORY_MAX), { kind: "gap", beforeSeq: 7, limit: 4 });
  });

  it("pages a hole larger than the history limit from its top down", () => {
    const timeline = timelineWith([1, 500]);
    assert.deepEqual(timeline.gapRequest(HISTORY_MAX), { kind: "gap", beforeSeq: 500, limit: 100 });
  });

  it("asks nothing without a hole, or while a gap request is in flight", () => {
    assert.equal(timelineWith([1, 2, 3]).gapRequest(HISTORY_MAX), null);
    const timeline = timelineWith([1, 5]);
    timeline.sent(timeline.gapRequest(HISTORY_MAX));
    assert.equal(timeline.gapRequest(HISTORY_MAX), null);
  });

  it("learns from a gap reply which seqs are gone, and moves past them", () => {
    const timeline = timelineWith([1, 6]);
    const request = timeline.gapRequest(HISTORY_MAX);
    timeline.sent(request);
    const taken = timeline.take(6);
    assert.equal(taken.beforeSeq, 6);
    [2, 4].forEach((seq) => timeline.add(seq));
    timeline.answered(taken, [2, 4], false);
    assert.equal(timeline.advance(), false);
    assert.equal(timeline.contiguous, 6);
    assert.deepEqual([...timeline.absent].sort(), [3, 5]);
    assert.equal(timeline.gapInFlight, false);
  });
});

describe("Timeline history requests", () => {
  it("matches each reply to its request by the before_seq it echoes", () => {
    const timeline = timelineWith([100, 200]);
    timeline.sent({ kind: "older", beforeSeq: 100, limit: 50 });
    timeline.sent({ kind: "gap", beforeSeq: 200, limit: 99 });
    assert.equal(timeline.take(200).kind, "gap");
    assert.equal(timeline.take(200), null);
    assert.deepEqual(timeline.take(100), { kind: "older", beforeSeq: 100, limit: 50, from: 50, to: 99 });
  });

  it("takes the oldest request for a reply that echoes nothing", () => {
    const timeline = new Timeline();
    timeline.sent({ kind: "older", beforeSeq: 100, limit: 50 });
    timeline.sent({ kind: "gap", beforeSeq: 300, limit: 10 });
    assert.equal(timeline.take(undefined).beforeSeq, 100);
    assert.equal(timeline.take(undefined).beforeSeq, 300);
    assert.equal(timeline.take(undefined), null);
  });

  it("pages back from the oldest seq shown while the server has more", () => {
    const timeline = timelineWith([51, 52, 53], { contiguous: 53, hasMore: true });
    const request = timeline.olderRequest(50);
    assert.deepEqual(request, { kind: "older", beforeSeq: 51, limit: 50 });
    timeline.sent(request);
    assert.equal(timeline.olderRequest(50), null, "one page at a time");
    timeline.answered(timeline.take(51), [], false);
    assert.equal(timeline.olderRequest(50), null, "nothing older");
  });

  it("forgets the requests of a dropped socket", () => {
    const timeline = timelineWith([1, 5], { hasMore: true });
    timeline.sent(timeline.gapRequest(HISTORY_MAX));
    timeline.sent(timeline.olderRequest(50));
    timeline.forgetRequests();
    assert.equal(timeline.take(5), null);
    assert.notEqual(timeline.gapRequest(HISTORY_MAX), null);
    assert.notEqual(timeline.olderRequest(50), null);
  });
});
