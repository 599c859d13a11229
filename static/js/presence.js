// Who is online, for the members panel: "here now" (connected to this room:
// `presence` frames) and "online elsewhere" (a socket open anywhere else:
// hello's `members_online` and `members_online` frames, which room.js passes
// on as `room:frame` events). Members are marked, visitors (reading a public
// room without being members) are added while here.

import { cloneTemplate, setText } from "./dom.js";
import { gettext } from "./i18n.js";

// `online` lists at most 100 users; the server's count covers them all.
export function onlineCount(count, listed) {
  return typeof count === "number" && count >= listed ? count : listed;
}

// A member's state: "here" beats "elsewhere".
export function presenceOf(id, here, anywhere) {
  if (here.has(id)) return "here";
  return anywhere.has(id) ? "elsewhere" : "offline";
}

const STATUS_TEXT = { here: " (here now)", elsewhere: " (online elsewhere)", offline: " (offline)" };

function statusText(state) {
  return ` ${gettext(STATUS_TEXT[state].trim())}`;
}

export class Presence {
  constructor({ members, counter }) {
    this.members = members;
    this.counter = counter;
    this.here = new Set();
    this.anywhere = new Set();
    document.addEventListener("room:frame", (event) => {
      const frame = event.detail;
      if (frame.type === "hello" || frame.type === "members_online") {
        const ids = frame.type === "hello" ? frame.members_online : frame.online;
        this.anywhere = new Set((ids || []).map(String));
        this.mark();
      }
    });
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
    this.here = new Set();
    online.forEach((user) => {
      this.here.add(String(user.id));
      this.memberItem(user);
    });
    this.mark();
    if (this.counter) {
      this.counter.textContent = gettext("%(count)s here", { count: onlineCount(count, this.here.size) });
      this.counter.removeAttribute("title");
    }
  }

  mark() {
    this.members.querySelectorAll("li[data-user-id]").forEach((li) => {
      const state = presenceOf(li.dataset.userId, this.here, this.anywhere);
      if (state !== "here" && li.classList.contains("visitor")) {
        li.remove();
        return;
      }
      li.classList.toggle("online", state === "here");
      li.classList.toggle("elsewhere", state === "elsewhere");
      let status = li.querySelector(".presence");
      if (!status) {
        status = document.createElement("span");
        status.className = "presence visually-hidden";
        li.appendChild(status);
      }
      status.textContent = statusText(state);
    });
  }

  // While the server can't be reached nobody's presence is known: say so
  // instead of keeping the last count; the next `presence` or `hello` redraws.
  stale(isStale) {
    const was = this.members.classList.contains("stale");
    this.members.classList.toggle("stale", isStale);
    if (!isStale || was) return;
    this.members.querySelectorAll("li[data-user-id]").forEach((li) => {
      li.classList.remove("online", "elsewhere");
      const status = li.querySelector(".presence");
      if (status) status.textContent = ` ${gettext("(status unknown)")}`;
    });
    if (this.counter) {
      this.counter.textContent = gettext("Online: unknown");
      this.counter.title = gettext("Not connected: who is online is not known right now.");
    }
  }
}
