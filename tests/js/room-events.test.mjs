import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { counterState } from "../../static/js/composer.js";
import { completeMention, mentionMatches, mentionQuery, moveActive } from "../../static/js/mentions.js";
import {
  canDelete, canEdit, ComposerMode, excerpt, MessageStates, reactFrame, reactionTitle, replyQuote,
} from "../../static/js/message-state.js";
import { Timeline } from "../../static/js/timeline.js";
import { TypingThrottle } from "../../static/js/typing.js";

const alice = { id: 1, username: "alice" };
const bob = { id: 2, username: "bob" };

function message(fields = {}) {
  return { id: 10, seq: 5, author: alice, body: "hi", deleted: false, reactions: [], ...fields };
}

function timelineWith(seqs, options) {
  const timeline = new Timeline(options);
  seqs.forEach((seq) => timeline.add(seq));
  timeline.advance();
  return timeline;
}

describe("Timeline with update seqs", () => {
  it("lets an update's seq fill a hole like a message's", () => {
    const timeline = timelineWith([1, 2, 4]);
    assert.equal(timeline.contiguous, 2);
    assert.equal(timeline.addUpdate(3), true);
    assert.equal(timeline.advance(), false);
    assert.equal(timeline.contiguous, 4);
    assert.deepEqual(timeline.seqs, [1, 2, 4], "updates are not drawn as messages");
  });

  it("knows a later update's seq as the newest, so the hole below it shows", () => {
    const timeline = timelineWith([1, 2]);
    timeline.addUpdate(5);
    assert.equal(timeline.advance(), true);
    assert.equal(timeline.knownLast, 5);
  });

  it("drops a replayed update", () => {
    const timeline = timelineWith([1]);
    assert.equal(timeline.addUpdate(2), true);
    assert.equal(timeline.addUpdate(2), false);
    assert.equal(timeline.addUpdate(1), false, "a message's seq is no update's");
  });

  it("fills holes with catch_up from contiguous once the server has room events", () => {
    const timeline = timelineWith([1, 2, 6]);
    timeline.catchUp = true;
    const request = timeline.gapRequest(100);
    assert.deepEqual(request, { kind: "catch_up", after: 2, upTo: 6 });
    timeline.sent(request);
    assert.equal(timeline.gapRequest(100), null, "one at a time");
    const taken = timeline.takeCatchUp(2);
    assert.equal(taken.after, 2);
    timeline.add(3);
    timeline.addUpdate(4);
    timeline.addUpdate(5);
    timeline.caughtUp(taken, [3, 4, 5, 6], false);
    assert.equal(timeline.advance(), false);
    assert.equal(timeline.contiguous, 6);
  });

  it("marks the seqs a complete catch_up lacks as gone", () => {
    const timeline = timelineWith([1, 5]);
    timeline.catchUp = true;
    const request = timeline.gapRequest(100);
    timeline.sent(request);
    timeline.caughtUp(timeline.takeCatchUp(1), [], false);
    assert.equal(timeline.advance(), false);
    assert.equal(timeline.contiguous, 5);
  });

  it("asks again from the last event when catch_up has more", () => {
    const timeline = timelineWith([1]);
    timeline.catchUp = true;
    timeline.learnLast(1200);
    timeline.advance();
    const first = timeline.gapRequest(100);
    timeline.sent(first);
    const seqs = Array.from({ length: 500 }, (_, i) => i + 2);
    seqs.forEach((seq) => (seq % 2 ? timeline.add(seq) : timeline.addUpdate(seq)));
    timeline.caughtUp(timeline.takeCatchUp(1), seqs, true);
    assert.equal(timeline.advance(), true);
    assert.equal(timeline.contiguous, 501);
    assert.deepEqual(timeline.gapRequest(100), { kind: "catch_up", after: 501, upTo: 1200 });
  });

  it("leaves seqs a history page lacks as holes when they may be updates", () => {
    const timeline = timelineWith([1, 2, 6]);
    timeline.catchUp = true;
    const request = { kind: "gap", beforeSeq: 6, limit: 3 };
    timeline.sent(request);
    timeline.answered(timeline.take(6), [3, 5], false);
    timeline.add(3);
    timeline.add(5);
    assert.equal(timeline.advance(), true);
    assert.equal(timeline.contiguous, 3);
    assert.equal(timeline.gapRequest(100).kind, "catch_up");
  });

  it("still marks what a history gap page lacks as gone on a server without events", () => {
    const timeline = timelineWith([1, 2, 6]);
    timeline.sent({ kind: "gap", beforeSeq: 6, limit: 3 });
    timeline.answered(timeline.take(6), [3], false);
    timeline.add(3);
    assert.equal(timeline.advance(), false);
    assert.equal(timeline.contiguous, 6);
  });

  it("never hands a history reply a catch_up request", () => {
    const timeline = timelineWith([1, 3]);
    timeline.catchUp = true;
    timeline.sent(timeline.gapRequest(100));
    assert.equal(timeline.take(undefined), null);
    assert.equal(timeline.take(3), null);
  });

  it("forgets a catch_up in flight with its socket", () => {
    const timeline = timelineWith([1, 3]);
    timeline.catchUp = true;
    timeline.sent(timeline.gapRequest(100));
    timeline.forgetRequests();
    assert.deepEqual(timeline.gapRequest(100), { kind: "catch_up", after: 1, upTo: 3 });
  });
});

describe("MessageStates", () => {
  it("applies only updates newer than the state shown", () => {
    const states = new MessageStates();
    assert.equal(states.accept(10, 7), true);
    assert.equal(states.accept(10, 9), true);
    assert.equal(states.accept(10, 8), false);
    assert.equal(states.accept(11, 8), true);
  });
});

describe("permissions", () => {
  it("lets the author edit and delete, a moderator delete only", () => {
    assert.equal(canEdit(message(), alice), true);
    assert.equal(canEdit(message(), bob), false);
    assert.equal(canDelete(message(), bob), false);
    assert.equal(canDelete(message(), bob, true), true);
    assert.equal(canEdit(message({ deleted: true }), alice), false);
    assert.equal(canDelete(message({ deleted: true }), alice), false);
  });
});

describe("reactions", () => {
  const reacted = message({ reactions: [{ emoji: "👍", count: 2, user_ids: [1, 2] }] });

  it("toggles the user's own reaction", () => {
    assert.deepEqual(reactFrame(reacted, "👍", 1), { type: "react", message_id: 10, emoji: "👍", on: false });
    assert.deepEqual(reactFrame(reacted, "🎉", 1), { type: "react", message_id: 10, emoji: "🎉", on: true });
    assert.deepEqual(reactFrame(reacted, "👍", 3), { type: "react", message_id: 10, emoji: "👍", on: true });
  });

  it("names who reacted, me first", () => {
    const names = new Map([[1, "alice"], [2, "bob"], [3, "carol"]]);
    assert.equal(reactionTitle({ emoji: "👍", count: 1, user_ids: [2] }, names, 1), "bob");
    assert.equal(reactionTitle({ emoji: "👍", count: 2, user_ids: [2, 1] }, names, 1), "You and bob");
    assert.equal(reactionTitle({ emoji: "👍", count: 3, user_ids: [1, 2, 3] }, names, 9), "alice, bob and carol");
  });

  it("counts who is not known by name", () => {
    const names = new Map([[2, "bob"]]);
    assert.equal(reactionTitle({ emoji: "👍", count: 3, user_ids: [7, 8, 9] }, names, 1), "3 people");
    assert.equal(reactionTitle({ emoji: "👍", count: 1, user_ids: [7] }, names, 1), "1 person");
    assert.equal(reactionTitle({ emoji: "👍", count: 60, user_ids: [2, 7] }, names, 1), "bob and 59 others");
    assert.equal(reactionTitle({ emoji: "👍", count: 2, user_ids: [2, 7] }, names, 1), "bob and 1 other");
  });
});

describe("replies", () => {
  it("quotes the excerpt, or says the original is gone", () => {
    assert.deepEqual(replyQuote({ id: 1, author: bob, excerpt: "hello\nthere", deleted: false }),
      { author: "bob", text: "hello there", deleted: false });
    assert.deepEqual(replyQuote({ id: 1, author: bob, excerpt: "", deleted: true }),
      { author: "", text: "deleted message", deleted: true });
    assert.equal(replyQuote(null), null);
  });

  it("shortens long excerpts", () => {
    assert.equal(excerpt("x".repeat(200), 10), `${"x".repeat(9)}…`);
  });
});

describe("ComposerMode", () => {
  it("sends a plain message, a reply and an edit", () => {
    const mode = new ComposerMode();
    assert.equal(mode.label(), "");
    assert.deepEqual(mode.frame("hi", "c-1"), { type: "send", body: "hi", client_id: "c-1" });
    mode.reply(message({ author: bob }));
    assert.equal(mode.label(), "Replying to bob");
    assert.deepEqual(mode.frame("yes", "c-2"), { type: "send", body: "yes", client_id: "c-2", reply_to: 10 });
    mode.edit(message());
    assert.equal(mode.label(), "Editing your message");
    assert.deepEqual(mode.frame("fixed", "c-3"), { type: "edit", message_id: 10, body: "fixed" });
    mode.cancel();
    assert.equal(mode.kind, "new");
  });

  it("ends a reply when its message is deleted", () => {
    const mode = new ComposerMode();
    mode.reply(message());
    mode.changed(message({ id: 11, deleted: true }));
    assert.equal(mode.kind, "reply");
    mode.changed(message({ deleted: true }));
    assert.equal(mode.kind, "new");
  });
});

describe("mention autocomplete", () => {
  const names = ["alice", "Albert", "bob", "malia", "carol", "alice"];

  it("finds the @word before the caret", () => {
    assert.deepEqual(mentionQuery("hi @al", 6), { start: 3, query: "al" });
    assert.deepEqual(mentionQuery("@", 1), { start: 0, query: "" });
    assert.equal(mentionQuery("mail@al", 7), null, "not inside an address");
    assert.equal(mentionQuery("hi @al there", 12), null);
  });

  it("matches names starting with the query first, then containing it", () => {
    assert.deepEqual(mentionMatches(names, "al"), ["Albert", "alice", "malia"]);
    assert.deepEqual(mentionMatches(names, "AL", { exclude: "alice" }), ["Albert", "malia"]);
    assert.deepEqual(mentionMatches(names, "", { limit: 2 }), ["Albert", "alice"]);
    assert.deepEqual(mentionMatches(names, "zz"), []);
  });

  it("puts the picked name in place of the query", () => {
    const text = "hi @al";
    assert.deepEqual(completeMention(text, 6, mentionQuery(text, 6), "alice"), { text: "hi @alice ", caret: 10 });
    const middle = "hi @al there";
    assert.deepEqual(completeMention(middle, 6, { start: 3, query: "al" }, "alice"),
      { text: "hi @alice there", caret: 10 });
  });

  it("moves the active option round", () => {
    assert.equal(moveActive(-1, 1, 3), 0);
    assert.equal(moveActive(-1, -1, 3), 2);
    assert.equal(moveActive(2, 1, 3), 0);
    assert.equal(moveActive(0, -1, 3), 2);
    assert.equal(moveActive(0, 1, 0), -1);
  });
});

describe("the composer's counter", () => {
  it("shows nothing far from the limit, then what is left, then how far over", () => {
    assert.equal(counterState(100, 4000), null);
    assert.deepEqual(counterState(3900, 4000), { text: "100 left", over: false });
    assert.deepEqual(counterState(4000, 4000), { text: "0 left", over: false });
    assert.deepEqual(counterState(4120, 4000), { text: "120 over the limit of 4000", over: true });
  });
});

describe("TypingThrottle after a send", () => {
  it("lets the next keystroke say typing again at once", () => {
    let now = 0;
    const throttle = new TypingThrottle(3000, () => now);
    throttle.sent();
    now = 1000;
    assert.equal(throttle.due(), false);
    throttle.reset();
    assert.equal(throttle.due(), true);
  });
});
