import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { desktopView, keyBytes, pushView, sameKey } from "../../static/js/push-settings.js";

describe("pushView", () => {
  const on = { enabled: true, supported: true, permission: "default", subscribed: false };

  it("offers to turn push on, or off once subscribed", () => {
    assert.deepEqual(pushView(on), { text: "Off for this browser.", subscribe: true, unsubscribe: false });
    assert.deepEqual(pushView({ ...on, permission: "granted", subscribed: true }), {
      text: "On for this browser.",
      subscribe: false,
      unsubscribe: true,
    });
  });

  it("says why not: server off, browser without push, blocked", () => {
    assert.match(pushView({ ...on, enabled: false }).text, /not set up on this server/);
    assert.match(pushView({ ...on, supported: false }).text, /can't receive/);
    const blocked = pushView({ ...on, permission: "denied" });
    assert.match(blocked.text, /blocked/);
    assert.equal(blocked.subscribe, false);
    // A subscription left over from before the block can still be dropped.
    assert.equal(pushView({ ...on, permission: "denied", subscribed: true }).unsubscribe, true);
  });
});

describe("desktopView", () => {
  it("offers the permission prompt only while it can still be asked", () => {
    assert.equal(desktopView({ supported: true, permission: "default" }).allow, true);
    assert.equal(desktopView({ supported: true, permission: "granted" }).allow, false);
    assert.match(desktopView({ supported: true, permission: "denied" }).text, /Blocked/);
    assert.equal(desktopView({ supported: false, permission: "default" }).allow, false);
  });
});

describe("VAPID key", () => {
  const key = "BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U";

  it("decodes base64url to the 65-byte point", () => {
    const bytes = keyBytes(key);
    assert.equal(bytes.length, 65);
    assert.equal(bytes[0], 4);
  });

  it("tells a subscription made with another key", () => {
    const made = (k) => ({ options: { applicationServerKey: keyBytes(k).buffer } });
    assert.equal(sameKey(made(key), key), true);
    assert.equal(sameKey(made(key.replace("BEl", "BEm")), key), false);
    assert.equal(sameKey({ options: {} }, key), true);
  });
});
