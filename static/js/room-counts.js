// The room list's unread counts (docs/protocol.md, "The room list, live"),
// without the DOM. They count messages, never seqs (other room events take seqs
// too): a count is exact up to `throughSeq` (from the page, a `room_read` frame,
// or one's own message), and each message above it is counted once, as it arrives.

export const UNREAD_SHOWN_MAX = 999;

export function unreadLabel(count) {
  return count > UNREAD_SHOWN_MAX ? `${UNREAD_SHOWN_MAX}+` : String(count);
}

export function titleWithCount(title, total) {
  return total > 0 ? `(${unreadLabel(total)}) ${title}` : title;
}

export class RoomCount {
  constructor({ readSeq = 0, unread = 0, throughSeq = 0 } = {}) {
    this.readSeq = readSeq;
    this.counted = unread;
    this.throughSeq = throughSeq;
    this.latestSeq = throughSeq;
    this.above = new Set(); // seqs of messages after throughSeq, not yet read
  }

  get unread() {
    return this.counted + this.above.size;
  }

  // A new message in the room (a `room_activity` frame); return whether it is
  // the newest this list has heard of (frames can arrive out of seq order).
  message(seq, mine) {
    const newest = seq > this.latestSeq;
    if (newest) this.latestSeq = seq;
    if (mine) {
      // Posting marks the room read up to one's own message, as the server does.
      this.read({ seq, unread: 0, throughSeq: seq });
    } else if (seq > this.throughSeq && seq > this.readSeq) {
      this.above.add(seq);
    }
    return newest;
  }

  // A count from the server (a `room_read` frame): exact up to its throughSeq.
  read({ seq, unread, throughSeq }) {
    if (throughSeq < this.throughSeq) return; // older than what this count knows
    this.readSeq = Math.max(this.readSeq, seq);
    this.counted = unread;
    this.throughSeq = throughSeq;
    this.latestSeq = Math.max(this.latestSeq, throughSeq);
    for (const above of this.above) {
      if (above <= throughSeq) this.above.delete(above);
    }
  }
}

export function totalUnread(counts) {
  let total = 0;
  for (const count of counts.values()) total += count.unread;
  return total;
}
