import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ReadPositions, seenByText } from "../../static/js/read-positions.js";

const user = (id, username) => ({ id, username });

describe("seenByText", () => {
  it("names up to three, then two and how many others", () => {
    assert.equal(seenByText([]), "");
    assert.equal(seenByText(["alice"]), "Seen by alice");
    assert.equal(seenByText(["alice", "bob"]), "Seen by alice and bob");
    assert.equal(seenByText(["alice", "bob", "carol"]), "Seen by alice, bob and carol");
    assert.equal(seenByText(["a", "b", "c", "d", "e"]), "Seen by a, b and 3 others");
  });
});

describe("ReadPositions", () => {
  it("lists who read the seq, but the ones left out, by name", () => {
    const positions = new ReadPositions();
    positions.reset([
      { user: user(1, "me"), seq: 9 },
      { user: user(2, "Zed"), seq: 9 },
      { user: user(3, "bob"), seq: 4 },
      { user: user(4, "alice"), seq: 12 },
    ]);
    assert.deepEqual(positions.readersOf(9, [1]), ["alice", "Zed"]);
  });

  it("never moves a position back", () => {
    const positions = new ReadPositions();
    positions.move(user(2, "bob"), 8);
    positions.move(user(2, "bob"), 5);
    assert.deepEqual(positions.readersOf(8), ["bob"]);
  });

  it("forgets, on a new hello, those the server no longer lists", () => {
    const positions = new ReadPositions();
    positions.move(user(2, "bob"), 8);
    positions.reset([]);
    assert.deepEqual(positions.readersOf(1), []);
  });
});
