// What the bell knows of the user's notifications (no DOM): the latest ones by
// id, the unread count, and `lastId`, the newest id seen (the resume point).

const LEVELS = ["info", "success", "warning", "error"];
const COUNT_SHOWN_UP_TO = 99;

// Only same-site paths become links (the server refuses others too).
export function sitePath(url) {
  return typeof url === "string" && url.charAt(0) === "/" &&
    url.charAt(1) !== "/" && url.charAt(1) !== "\\" ? url : "";
}

export function levelOf(level) {
  return LEVELS.includes(level) ? level : "info";
}

export function shorten(text, max) {
  const value = String(text || "");
  return value.length > max ? `${value.slice(0, max - 1)}…` : value;
}

export function countLabel(count) {
  return count > COUNT_SHOWN_UP_TO ? `${COUNT_SHOWN_UP_TO}+` : String(count);
}

// What a room's messages cause; an announcement that links to a room is not one.
const ROOM_KINDS = ["mention", "reply", "reaction", "direct"];

// Whether a notification is about the room at `roomPath` (the page in front of
// the user): a mention at "/chat/general/?at=12" is about "/chat/general/".
export function isAboutRoom(notification, roomPath) {
  if (!roomPath || !notification || !ROOM_KINDS.includes(notification.kind)) return false;
  return sitePath(notification.url).split(/[?#]/)[0] === roomPath;
}

export class Inbox {
  constructor(kept) {
    this.kept = kept; // how many of the latest are kept (the dropdown's length)
    this.items = new Map(); // id -> notification
    this.unread = 0;
    this.lastId = 0;
    this.greeted = false; // a hello came: later connections resume after lastId
  }

  setUnread(count) {
    this.unread = Math.max(0, Number(count) || 0);
  }

  // Returns true when this page had not seen the notification before. A grouped
  // one that grew (`replaces`) takes the place of the one it replaces.
  remember(notification) {
    if (!notification || typeof notification.id !== "number") return false;
    if (typeof notification.replaces === "number") this.items.delete(notification.replaces);
    const fresh = !this.items.has(notification.id);
    this.items.set(notification.id, notification);
    this.lastId = Math.max(this.lastId, notification.id);
    return fresh;
  }

  // A hello: returns the notifications to announce. On a page load, only unread
  // ones newer than `seenBefore` (the newest this browser showed before, or null
  // when it never did: then none); on a resume, every unread one new to the page.
  greet(frame, seenBefore) {
    const resumed = this.greeted;
    const fresh = (frame.notifications || []).filter((notification) => {
      const isNew = this.remember(notification);
      return isNew && !notification.read &&
        (resumed || (seenBefore !== null && notification.id > seenBefore));
    });
    if (typeof frame.last_id === "number") this.lastId = Math.max(this.lastId, frame.last_id);
    this.greeted = true;
    this.setUnread(frame.unread);
    return fresh;
  }

  // What an `unread` frame says was read: some ids, or everything up to lastId.
  markRead(ids, all) {
    this.items.forEach((notification, id) => {
      if (all ? id <= this.lastId : ids.includes(id)) notification.read = true;
    });
  }

  isRead(id) {
    const notification = this.items.get(id);
    return Boolean(notification && notification.read);
  }

  // The latest `kept`, newest first; older ones are forgotten.
  latest() {
    const ids = Array.from(this.items.keys()).sort((a, b) => b - a);
    ids.slice(this.kept).forEach((id) => this.items.delete(id));
    return ids.slice(0, this.kept).map((id) => this.items.get(id));
  }
}
