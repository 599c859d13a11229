// Toasts for new notifications: a few at once, each gone after a while unless
// the pointer rests on it.

import { cloneTemplate, setText } from "./dom.js";
import { gettext, ngettext } from "./i18n.js";
import { levelOf, shorten, sitePath } from "./inbox.js";

const TOASTS_MAX = 3;
const TOAST_MS = 7000;
const BODY_CHARS = 140;

export class Toasts {
  constructor({ container, listUrl, onOpen }) {
    Object.assign(this, { container, listUrl, onOpen });
  }

  show({ id, title, body, url, level }) {
    while (this.container.children.length >= TOASTS_MAX) this.container.firstElementChild.remove();
    const box = cloneTemplate("notif-toast-template");
    box.classList.add(`notif-level-${levelOf(level)}`);
    const link = box.querySelector(".notif-toast-link");
    link.href = sitePath(url) || this.listUrl;
    setText(box, ".notif-toast-title", title);
    if (body) setText(box, ".notif-toast-body", shorten(body, BODY_CHARS));
    else box.querySelector(".notif-toast-body").remove();
    if (id) link.addEventListener("click", () => this.onOpen(id));
    let timer = setTimeout(() => box.remove(), TOAST_MS);
    box.querySelector(".notif-toast-close").addEventListener("click", () => {
      clearTimeout(timer);
      box.remove();
    });
    box.addEventListener("mouseenter", () => clearTimeout(timer));
    box.addEventListener("mouseleave", () => {
      timer = setTimeout(() => box.remove(), TOAST_MS / 2);
    });
    this.container.appendChild(box);
  }

  // One toast each, or a single summary when many arrive at once.
  showAll(notifications) {
    if (notifications.length <= TOASTS_MAX) {
      notifications.forEach((notification) => this.show(notification));
      return;
    }
    this.show({
      title: ngettext("%(count)s new notification", "%(count)s new notifications", notifications.length),
      body: gettext("Open the bell or the list to see them."),
      url: this.listUrl,
      level: "info",
    });
  }
}
