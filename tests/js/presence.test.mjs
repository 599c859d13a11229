import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { onlineCount, presenceOf } from "../../static/js/presence.js";

describe("presenceOf", () => {
  it("says here now before online elsewhere, and offline otherwise", () => {
    const here = new Set(["1"]);
    const anywhere = new Set(["1", "2"]);
    assert.equal(presenceOf("1", here, anywhere), "here");
    assert.equal(presenceOf("2", here, anywhere), "elsewhere");
    assert.equal(presenceOf("3", here, anywhere), "offline");
  });
});

describe("onlineCount", () => {
  it("takes the server's count when it covers the list", () => {
    assert.equal(onlineCount(120, 100), 120);
    assert.equal(onlineCount(undefined, 3), 3);
  });
});
