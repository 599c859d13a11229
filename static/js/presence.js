// Who is online in the room: members are marked, visitors (reading a public
// room without being members) are added while online.

import { cloneTemplate, setText } from "./dom.js";

// `online` lists at most 100 users; the server's count covers them all.
export function onlineCount(count, listed) {
  return typeof count === "number" && count >= listed ? count : listed;
}

export class Presence {
  constructor({ members, counter }) {
    this.members = members;
    this.counter = counter;
  }

  memberItem(user) {
    const existing = this.members.querySelector(`li[data-user-id="${Number(user.id)}"]`);
    if (existing) return existing;
    const li = cloneTemplate("visitor-template");
    li.dataset.userId = user.id;
    setText(li, ".name", user.username);
    this.members.appendChild(li);
    return li;
  }

  show(online, count) {
    const ids = new Set();
    online.forEach((user) => {
      ids.add(String(user.id));
      this.memberItem(user);
    });
    this.members.querySelectorAll("li[data-user-id]").forEach((li) => {
      const isOnline = ids.has(li.dataset.userId);
      if (!isOnline && li.classList.contains("visitor")) {
        li.remove();
        return;
      }
      li.classList.toggle("online", isOnline);
      let status = li.querySelector(".presence");
      if (!status) {
        status = document.createElement("span");
        status.className = "presence visually-hidden";
        li.appendChild(status);
      }
      status.textContent = isOnline ? " (online)" : " (offline)";
    });
    if (this.counter) {
      this.counter.textContent = `${onlineCount(count, ids.size)} online`;
      this.counter.removeAttribute("title");
    }
  }

  // While the server can't be reached nobody's presence is known: say so
  // instead of keeping the last count; the next `presence` or `hello` redraws.
  stale(isStale) {
    const was = this.members.classList.contains("stale");
    this.members.classList.toggle("stale", isStale);
    if (!isStale || was) return;
    this.members.querySelectorAll("li[data-user-id]").forEach((li) => {
      li.classList.remove("online");
      const status = li.querySelector(".presence");
      if (status) status.textContent = " (status unknown)";
    });
    if (this.counter) {
      this.counter.textContent = "Online: unknown";
      this.counter.title = "Not connected: who is online is not known right now.";
    }
  }
}
