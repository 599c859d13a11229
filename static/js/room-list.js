// The room list page, kept live over the user's own stream (docs/protocol.md,
// "The room list, live"): the bell's socket, whose frames bell.js passes on as
// `userstream:frame` events. New messages update a room's count, preview and
// place; reading in another tab updates its count; the total shows in the title.

import { RoomCount, titleWithCount, totalUnread, unreadLabel } from "./room-counts.js";
import { setText } from "./dom.js";
import { formatAllTimes, formatTime } from "./times.js";

const me = Number(document.getElementById("notif-bell")?.dataset.userId);
const baseTitle = document.title;
let counts = new Map(); // room slug -> RoomCount
let greeted = false;
let refreshing = null;

function rows() {
  return document.querySelectorAll("#rooms li.room-row[data-room]");
}

function rowOf(slug) {
  return [...rows()].find((li) => li.dataset.room === slug) || null;
}

function adopt() {
  counts = new Map();
  rows().forEach((li) => {
    counts.set(li.dataset.room, new RoomCount({
      readSeq: Number(li.dataset.readSeq) || 0,
      unread: Number(li.dataset.unread) || 0,
      throughSeq: Number(li.dataset.throughSeq) || 0,
    }));
  });
  document.title = titleWithCount(baseTitle, totalUnread(counts));
}

function showCount(slug) {
  const li = rowOf(slug);
  const unread = counts.get(slug).unread;
  li.classList.toggle("has-unread", unread > 0);
  const badge = li.querySelector(".badge");
  badge.hidden = unread === 0;
  setText(badge, ".badge-n", unreadLabel(unread));
  document.title = titleWithCount(baseTitle, totalUnread(counts));
}

function showLatest(slug, message) {
  const li = rowOf(slug);
  setText(li, ".last-author", `${message.author.username}:`);
  setText(li, ".last-body", message.excerpt);
  li.querySelector(".last-message").classList.remove("muted");
  const time = li.querySelector(".room-top time");
  time.hidden = false;
  time.setAttribute("datetime", message.created_at);
  formatTime(time);
  // Most recently active first, as the server orders them.
  li.parentElement.prepend(li);
}

// A room this page does not show (joined or opened since), or frames missed
// while the socket was away: the server's list again.
function refresh() {
  if (refreshing) return;
  refreshing = fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
    .then((response) => (response.ok ? response.text() : null))
    .then((html) => {
      const fresh = html && new DOMParser().parseFromString(html, "text/html").getElementById("rooms");
      if (!fresh) return;
      document.getElementById("rooms").replaceWith(document.adoptNode(fresh));
      formatAllTimes(fresh);
      adopt();
    })
    .catch(() => {
      // The list stays as it is until the next frame or page load.
    })
    .finally(() => {
      refreshing = null;
    });
}

const handlers = {
  hello() {
    if (greeted) refresh();
    greeted = true;
  },
  room_activity(frame) {
    const count = counts.get(frame.room);
    if (!count) {
      refresh();
      return;
    }
    const message = frame.message;
    if (count.message(message.seq, message.author.id === me)) showLatest(frame.room, message);
    showCount(frame.room);
  },
  room_read(frame) {
    const count = counts.get(frame.room);
    if (!count) return;
    count.read({ seq: frame.seq, unread: frame.unread, throughSeq: frame.through_seq });
    showCount(frame.room);
  },
};

formatAllTimes(document);
adopt();
document.addEventListener("userstream:frame", (event) => {
  const frame = event.detail;
  if (Object.hasOwn(handlers, frame.type)) handlers[frame.type](frame);
});
