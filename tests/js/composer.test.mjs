import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { bodyProblem } from "../../static/js/composer.js";
import { onlineCount } from "../../static/js/presence.js";
import { TypingThrottle, typingText } from "../../static/js/typing.js";

describe("bodyProblem", () => {
  const limits = { maxChars: 10, maxFrameBytes: 1000 };

  it("accepts a body within the limits", () => {
    assert.equal(bodyProblem("0123456789", limits), "");
  });

  it("names the character limit and the body's length", () => {
    assert.equal(
      bodyProblem("01234567890", limits),
      "A message is at most 10 characters (this one has 11).",
    );
  });

  it("refuses a body whose frame would pass the socket's frame limit", () => {
    const body = "é".repeat(30);
    assert.equal(bodyProblem(body, { maxChars: 100, maxFrameBytes: 1000 }), "");
    assert.notEqual(bodyProblem(body, { maxChars: 100, maxFrameBytes: 80 }), "");
  });
});

describe("typing", () => {
  it("names one or two typers, and counts more", () => {
    assert.equal(typingText([]), "");
    assert.equal(typingText(["alice"]), "alice is typing…");
    assert.equal(typingText(["alice", "bob"]), "alice and bob are typing…");
    assert.equal(typingText(["a", "b", "c"]), "Several people are typing…");
  });

  it("sends at most one typing frame per interval", () => {
    let time = 1000;
    const throttle = new TypingThrottle(2000, () => time);
    assert.equal(throttle.due(), true);
    throttle.sent();
    time += 1999;
    assert.equal(throttle.due(), false);
    time += 1;
    assert.equal(throttle.due(), true);
  });
});

describe("onlineCount", () => {
  it("trusts the server's count unless it is below those listed", () => {
    assert.equal(onlineCount(150, 100), 150);
    assert.equal(onlineCount(1, 3), 3);
    assert.equal(onlineCount(undefined, 2), 2);
  });
});
