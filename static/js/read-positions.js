// Who has read up to the room's newest message ("Seen by", docs/protocol.md),
// from hello's `read_positions` and live `read` frames; no DOM.

import { gettext, ngettext } from "./i18n.js";

// Names shown before "and N others".
export const SEEN_BY_NAMED = 2;

export function seenByText(names, named = SEEN_BY_NAMED) {
  if (!names.length) return "";
  if (names.length <= named + 1) {
    const last = names[names.length - 1];
    if (names.length === 1) return gettext("Seen by %(name)s", { name: last });
    return gettext("Seen by %(names)s and %(last)s", { names: names.slice(0, -1).join(", "), last });
  }
  const others = names.length - named;
  return ngettext("Seen by %(names)s and %(count)s other", "Seen by %(names)s and %(count)s others", others, {
    names: names.slice(0, named).join(", "),
  });
}

export class ReadPositions {
  constructor() {
    this.positions = new Map(); // user id -> { user, seq }
  }

  // A hello: the room's positions now (those who stopped sharing are gone).
  reset(list) {
    this.positions = new Map();
    list.forEach(({ user, seq }) => this.move(user, seq));
  }

  // A position never moves back; frames may come out of order across workers.
  move(user, seq) {
    const had = this.positions.get(user.id);
    if (!had || seq > had.seq) this.positions.set(user.id, { user, seq });
  }

  // The usernames of those who have read `seq`, but the ids in `except`, by name.
  readersOf(seq, except = []) {
    const skip = new Set(except);
    return [...this.positions.values()]
      .filter(({ user, seq: read }) => read >= seq && !skip.has(user.id))
      .map(({ user }) => user.username)
      .sort((a, b) => a.localeCompare(b, undefined, { sensitivity: "base" }));
  }
}
