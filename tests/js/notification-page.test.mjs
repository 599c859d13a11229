import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { NotificationPage } from "../../static/js/notification-page.js";

// Just enough of a list element: entries by data-id, newest first.
class FakeList {
  constructor(ids) {
    this.dataset = { live: "true" };
    this.entries = ids.map((id) => this.entry(id));
  }

  entry(id) {
    const li = { dataset: { id: String(id) }, remove: () => {
      this.entries = this.entries.filter((other) => other !== li);
    } };
    return li;
  }

  get firstChild() {
    return this.entries[0] || null;
  }

  querySelector(selector) {
    const id = /data-id="(\d+)"/.exec(selector)[1];
    return this.entries.find((li) => li.dataset.id === id) || null;
  }

  insertBefore(li, before) {
    const at = before ? this.entries.indexOf(before) : this.entries.length;
    this.entries.splice(at, 0, li);
  }

  ids() {
    return this.entries.map((li) => Number(li.dataset.id));
  }
}

function pageWith(list) {
  const page = new NotificationPage({ list, listUrl: "/notifications/" });
  page.entry = (notification) => list.entry(notification.id);
  return page;
}

describe("NotificationPage live list", () => {
  it("adds a new notification on top", () => {
    const list = new FakeList([5, 4]);
    pageWith(list).add({ id: 6 });
    assert.deepEqual(list.ids(), [6, 5, 4]);
  });

  it("a grouped notification that grew replaces the old entry", () => {
    const list = new FakeList([5, 4]);
    pageWith(list).add({ id: 9, replaces: 4, count: 2 });
    assert.deepEqual(list.ids(), [9, 5]);
  });

  it("adds nothing twice, and later pages stay as rendered", () => {
    const list = new FakeList([5]);
    pageWith(list).add({ id: 5 });
    assert.deepEqual(list.ids(), [5]);
    list.dataset.live = "false";
    pageWith(list).add({ id: 7, replaces: 5 });
    assert.deepEqual(list.ids(), [5]);
  });
});
