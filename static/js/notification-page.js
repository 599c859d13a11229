// The /notifications/ list: its first page grows live, and entries read anywhere
// (another tab, another device) lose their "unread" look without a reload.

import { cloneTemplate, setText } from "./dom.js";
import { gettext, ngettext } from "./i18n.js";
import { levelOf, sitePath } from "./inbox.js";
import { formatTime } from "./times.js";

export class NotificationPage {
  constructor({ list, unread, empty, readAll, listUrl }) {
    Object.assign(this, { list, unread, empty, readAll, listUrl });
  }

  setUnread(count) {
    if (this.unread) this.unread.textContent = ngettext("%(count)s unread", "%(count)s unread", count);
    if (this.readAll) this.readAll.disabled = count === 0;
  }

  // Later pages stay as they were rendered. A grouped notification that grew
  // takes the place of the one it replaces.
  add(notification) {
    if (!this.list || this.list.dataset.live !== "true") return;
    if (typeof notification.replaces === "number") {
      this.list.querySelector(`[data-id="${Number(notification.replaces)}"]`)?.remove();
    }
    if (this.list.querySelector(`[data-id="${Number(notification.id)}"]`)) return;
    this.list.insertBefore(this.entry(notification), this.list.firstChild);
    if (this.empty) this.empty.hidden = true;
  }

  entry(notification) {
    const li = cloneTemplate("notif-entry-template");
    li.className = `notif-entry notif-level-${levelOf(notification.level)}`;
    li.dataset.id = String(notification.id);
    const title = setText(li, ".notif-entry-title", notification.title);
    title.href = sitePath(notification.url) || this.listUrl;
    const body = li.querySelector(".notif-entry-body");
    if (notification.body) {
      String(notification.body).split("\n").forEach((line, index) => {
        if (index) body.appendChild(document.createElement("br"));
        body.appendChild(document.createTextNode(line));
      });
    } else {
      body.remove();
    }
    const time = li.querySelector("time");
    time.setAttribute("datetime", notification.created_at || "");
    formatTime(time);
    const form = li.querySelector(".notif-entry-read");
    if (notification.read) {
      this.showRead(li);
    } else {
      li.classList.add("notif-unread");
      form.action = `${this.listUrl}${encodeURIComponent(String(notification.id))}/read/`;
      form.elements.next.value = location.pathname + location.search;
    }
    return li;
  }

  markRead(ids, all) {
    if (!this.list) return;
    this.list.querySelectorAll(".notif-unread").forEach((li) => {
      if (all || ids.includes(Number(li.dataset.id))) this.showRead(li);
    });
  }

  showRead(li) {
    li.classList.remove("notif-unread");
    li.querySelector(".notif-entry-read")?.remove();
    setText(li, ".notif-entry-state", gettext("(read)"));
  }
}
