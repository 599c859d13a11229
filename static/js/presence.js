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
    if (this.counter) this.counter.textContent = `${onlineCount(count, ids.size)} online`;
  }

  stale(isStale) {
    this.members.classList.toggle("stale", isStale);
  }
}
