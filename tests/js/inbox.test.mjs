import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { countLabel, Inbox, isAboutRoom, levelOf, shorten, sitePath } from "../../static/js/inbox.js";

function notification(id, read = false) {
  return { id, title: `n${id}`, body: "", level: "info", url: "", created_at: "", read };
}

describe("Inbox unread count", () => {
  it("takes the server's count, never below zero", () => {
    const inbox = new Inbox(20);
    inbox.setUnread(3);
    assert.equal(inbox.unread, 3);
    inbox.setUnread(-2);
    assert.equal(inbox.unread, 0);
    inbox.setUnread("nonsense");
    assert.equal(inbox.unread, 0);
  });

  it("shows at most 99", () => {
    assert.equal(countLabel(0), "0");
    assert.equal(countLabel(99), "99");
    assert.equal(countLabel(100), "99+");
  });
});

describe("Inbox hello", () => {
  it("announces on a page load only unread ones newer than this browser showed", () => {
    const inbox = new Inbox(20);
    const fresh = inbox.greet({
      unread: 2, last_id: 12,
      notifications: [notification(10), notification(11, true), notification(12)],
    }, 10);
    assert.deepEqual(fresh.map((n) => n.id), [12]);
    assert.equal(inbox.unread, 2);
    assert.equal(inbox.lastId, 12);
  });

  it("announces nothing on a first visit", () => {
    const inbox = new Inbox(20);
    assert.deepEqual(inbox.greet({ unread: 1, notifications: [notification(3)] }, null), []);
  });

  it("announces every unread one new to the page on a resume", () => {
    const inbox = new Inbox(20);
    inbox.greet({ unread: 1, last_id: 5, notifications: [notification(5)] }, null);
    const fresh = inbox.greet({
      unread: 3, last_id: 7, notifications: [notification(5), notification(6), notification(7)],
    }, 100);
    assert.deepEqual(fresh.map((n) => n.id), [6, 7]);
  });

  it("resumes after the newest id seen, even one it was not sent", () => {
    const inbox = new Inbox(20);
    inbox.greet({ unread: 0, last_id: 40, notifications: [notification(3)] }, null);
    assert.equal(inbox.lastId, 40);
    assert.equal(inbox.greeted, true);
  });
});

describe("Inbox contents", () => {
  it("remembers each id once", () => {
    const inbox = new Inbox(20);
    assert.equal(inbox.remember(notification(1)), true);
    assert.equal(inbox.remember(notification(1)), false);
    assert.equal(inbox.remember({ id: "1" }), false);
    assert.equal(inbox.remember(null), false);
  });

  it("marks the ids read, or all up to the newest seen", () => {
    const inbox = new Inbox(20);
    [1, 2, 3].forEach((id) => inbox.remember(notification(id)));
    inbox.markRead([2], false);
    assert.deepEqual([1, 2, 3].map((id) => inbox.isRead(id)), [false, true, false]);
    inbox.markRead([], true);
    assert.deepEqual([1, 2, 3].map((id) => inbox.isRead(id)), [true, true, true]);
  });

  it("keeps the latest, newest first, and forgets the rest", () => {
    const inbox = new Inbox(3);
    [4, 1, 5, 2, 3].forEach((id) => inbox.remember(notification(id)));
    assert.deepEqual(inbox.latest().map((n) => n.id), [5, 4, 3]);
    assert.equal(inbox.items.size, 3);
  });
});

describe("notification fields", () => {
  it("links only to same-site paths", () => {
    assert.equal(sitePath("/chat/general/"), "/chat/general/");
    for (const url of ["//evil.example/", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", "", null]) {
      assert.equal(sitePath(url), "", String(url));
    }
  });

  it("knows the four levels and falls back to info", () => {
    assert.equal(levelOf("warning"), "warning");
    assert.equal(levelOf("bogus"), "info");
  });

  it("shortens long bodies with an ellipsis", () => {
    assert.equal(shorten("abcdef", 4), "abc…");
    assert.equal(shorten("abc", 4), "abc");
    assert.equal(shorten(undefined, 4), "");
  });
});

describe("Inbox grouped notifications", () => {
  it("a notification that grew takes the place of the one it replaces", () => {
    const inbox = new Inbox(20);
    inbox.remember(notification(4));
    inbox.remember(notification(5));
    const grown = { ...notification(9), count: 2, replaces: 5 };
    assert.equal(inbox.remember(grown), true);
    assert.deepEqual(inbox.latest().map((n) => n.id), [9, 4]);
    assert.equal(inbox.latest()[0].count, 2);
    assert.equal(inbox.lastId, 9);
  });

  it("replacing one this page never saw keeps the others", () => {
    const inbox = new Inbox(20);
    inbox.remember(notification(4));
    inbox.remember({ ...notification(9), replaces: 7 });
    assert.deepEqual(inbox.latest().map((n) => n.id), [9, 4]);
  });
});

describe("isAboutRoom", () => {
  it("matches the room a notification opens, whatever the message", () => {
    const mention = { ...notification(1), kind: "mention", url: "/chat/general/?at=12" };
    assert.equal(isAboutRoom(mention, "/chat/general/"), true);
    assert.equal(isAboutRoom({ ...mention, url: "/chat/general/" }, "/chat/general/"), true);
    assert.equal(isAboutRoom(mention, "/chat/general-2/"), false);
    assert.equal(isAboutRoom(mention, "/chat/gen/"), false);
  });

  it("is false off a room page, without a url, or for another site", () => {
    const direct = { ...notification(1), kind: "direct" };
    assert.equal(isAboutRoom({ ...direct, url: "/chat/general/" }, ""), false);
    assert.equal(isAboutRoom(direct, "/chat/general/"), false);
    assert.equal(
      isAboutRoom({ ...direct, url: "//evil.example/chat/general/" }, "/chat/general/"),
      false,
    );
  });

  it("an announcement linking to the room still toasts", () => {
    const broadcast = { ...notification(1), kind: "broadcast", url: "/chat/general/" };
    assert.equal(isAboutRoom(broadcast, "/chat/general/"), false);
  });
});
