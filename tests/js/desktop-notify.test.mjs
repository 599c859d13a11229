import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  CLAIM_MS,
  desktopDecision,
  DesktopNotifier,
  FOCUS_KEY,
  readFocus,
} from "../../static/js/desktop-notify.js";

class FakeStorage {
  constructor() {
    this.items = new Map();
  }
  getItem(key) {
    return this.items.has(key) ? this.items.get(key) : null;
  }
  setItem(key, value) {
    this.items.set(key, String(value));
  }
}

// navigator.locks with only what the notifier uses: ifAvailable requests.
class FakeLocks {
  constructor() {
    this.held = new Set();
  }
  async request(name, options, callback) {
    if (this.held.has(name)) return callback(null);
    this.held.add(name);
    try {
      return await callback({ name });
    } finally {
      this.held.delete(name);
    }
  }
}

// Timers the test releases by hand: a claim stays held until then.
class Waits {
  constructor() {
    this.pending = [];
  }
  wait(ms) {
    return new Promise((resolve) => this.pending.push({ ms, resolve }));
  }
  releaseAll() {
    this.pending.splice(0).forEach(({ resolve }) => resolve());
  }
}

function browser({ locks = new FakeLocks(), permission = "granted" } = {}) {
  const storage = new FakeStorage();
  const waits = new Waits();
  const tabs = {};
  const tab = (name, visible = false) => {
    const shown = [];
    const notifier = new DesktopNotifier({
      storage,
      locks,
      tabId: name,
      isVisible: () => tabs[name].visible,
      permission: () => permission,
      show: (notification) => shown.push(notification.id),
      wait: (ms) => waits.wait(ms),
    });
    tabs[name] = { notifier, shown, visible };
    return tabs[name];
  };
  // The frame reaches every tab; return which tabs showed it.
  const deliver = async (notification) => {
    const before = Object.fromEntries(Object.entries(tabs).map(([name, t]) => [name, t.shown.length]));
    await Promise.all(
      Object.values(tabs).map((t) => {
        const offered = t.notifier.offer(notification);
        return Promise.race([offered, Promise.resolve()]);
      }),
    );
    // Let every claim start (each awaits its lock once).
    await new Promise((resolve) => setImmediate(resolve));
    return Object.entries(tabs)
      .filter(([name, t]) => t.shown.length > before[name])
      .map(([name]) => name);
  };
  return { storage, waits, tab, tabs, deliver };
}

const mention = (id) => ({ id, kind: "mention", title: `m${id}`, body: "", url: "/chat/x/", read: false });

describe("desktopDecision", () => {
  const base = { notification: mention(1), tabId: "a", visible: false, focus: { tab: "a", closed: false }, permission: "granted" };

  it("shows mentions and direct messages in the most recently focused hidden tab", () => {
    assert.equal(desktopDecision(base), "show");
    assert.equal(desktopDecision({ ...base, notification: { ...mention(1), kind: "direct" } }), "show");
  });

  it("never without permission, for other kinds, read ones, or in a visible tab", () => {
    assert.equal(desktopDecision({ ...base, permission: "default" }), "permission");
    assert.equal(desktopDecision({ ...base, permission: "denied" }), "permission");
    for (const kind of ["reply", "reaction", "broadcast", "system", undefined]) {
      assert.equal(desktopDecision({ ...base, notification: { ...mention(1), kind } }), "kind");
    }
    assert.equal(desktopDecision({ ...base, notification: { ...mention(1), read: true } }), "read");
    assert.equal(desktopDecision({ ...base, visible: true }), "visible");
    assert.equal(desktopDecision({ ...base, notification: null }), "kind");
  });

  it("leaves it to another open tab that was focused later", () => {
    assert.equal(desktopDecision({ ...base, focus: { tab: "b", closed: false } }), "other-tab");
  });

  it("races the other tabs when the focused one is gone or unknown", () => {
    assert.equal(desktopDecision({ ...base, focus: { tab: "b", closed: true } }), "claim");
    assert.equal(desktopDecision({ ...base, focus: null }), "claim");
  });
});

describe("readFocus", () => {
  it("reads what focused() wrote and shrugs off garbage", () => {
    const storage = new FakeStorage();
    assert.equal(readFocus(storage), null);
    storage.setItem(FOCUS_KEY, "{not json");
    assert.equal(readFocus(storage), null);
    storage.setItem(FOCUS_KEY, JSON.stringify({ tab: 3 }));
    assert.equal(readFocus(storage), null);
    storage.setItem(FOCUS_KEY, JSON.stringify({ tab: "a" }));
    assert.deepEqual(readFocus(storage), { tab: "a", closed: false });
  });
});

describe("one tab shows it", () => {
  it("the tab focused last, once every tab is hidden", async () => {
    const { tab, tabs, deliver } = browser();
    tab("a");
    tab("b");
    tab("c");
    tabs.a.notifier.focused();
    tabs.b.notifier.focused(); // the user looked at b last, then left the browser
    assert.deepEqual(await deliver(mention(1)), ["b"]);
    tabs.c.notifier.focused();
    assert.deepEqual(await deliver(mention(2)), ["c"]);
  });

  it("none while a tab of the app is visible: its toast shows it", async () => {
    const { tab, tabs, deliver } = browser();
    tab("a");
    tab("b", true);
    tabs.b.notifier.focused();
    assert.deepEqual(await deliver(mention(1)), []);
  });

  it("one of the rest when the focused tab was closed (Web Locks)", async () => {
    const { tab, tabs, deliver, waits } = browser();
    tab("a");
    tab("b");
    tab("c");
    tabs.a.notifier.focused();
    tabs.a.notifier.leaving();
    delete tabs.a;
    assert.equal((await deliver(mention(1))).length, 1);
    // The claim is held for CLAIM_MS: a late tab finds it taken.
    assert.ok(waits.pending.every(({ ms }) => ms === CLAIM_MS));
    const late = tab("d");
    assert.equal(await late.notifier.offer(mention(1)), false);
    waits.releaseAll();
    // The next notification is claimed afresh.
    assert.equal((await deliver(mention(2))).length, 1);
    waits.releaseAll();
  });

  it("one of the rest without Web Locks (storage claim)", async () => {
    const { tab, tabs, deliver } = browser({ locks: null });
    tab("a");
    tab("b");
    tabs.a.notifier.focused();
    tabs.a.notifier.leaving();
    delete tabs.a;
    tab("c");
    assert.equal((await deliver(mention(5))).length, 1);
    assert.equal((await deliver(mention(5))).length, 0); // the same frame again (a resume)
    assert.equal((await deliver(mention(6))).length, 1);
  });

  it("a tab that was not the focused one leaving changes nothing", async () => {
    const { tab, tabs, deliver } = browser();
    tab("a");
    tab("b");
    tabs.a.notifier.focused();
    tabs.b.notifier.leaving();
    delete tabs.b;
    assert.deepEqual(await deliver(mention(1)), ["a"]);
  });

  it("nothing without permission", async () => {
    const { tab, tabs, deliver } = browser({ permission: "default" });
    tab("a");
    tabs.a.notifier.focused();
    assert.deepEqual(await deliver(mention(1)), []);
  });

  it("storage that refuses writes (private mode) breaks nothing", async () => {
    const { tab, tabs, storage, deliver, waits } = browser();
    storage.setItem = () => {
      throw new Error("QuotaExceededError");
    };
    tab("a");
    tabs.a.notifier.focused();
    assert.deepEqual(await deliver(mention(1)), ["a"]);
    waits.releaseAll();
  });
});
