// What a message allows and how its changes arrive, without the DOM: who may
// edit or delete it, the `react` frame a click on a reaction sends, who reacted
// (as names), which `update` is newer than the state shown, and the composer's
// mode (a new message, a reply, an edit) with the frame it sends.

import { gettext, ngettext } from "./i18n.js";

export const COMMON_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀"];
export const EXCERPT_CHARS = 140;
const NAMES_SHOWN = 3;

export function canEdit(message, me) {
  return !message.deleted && message.author.id === me.id;
}

// The author, the room's owner, or a moderator (`chat.delete_message`).
export function canDelete(message, me, moderator = false) {
  return !message.deleted && (message.author.id === me.id || moderator);
}

export function hasReacted(message, emoji, userId) {
  const reaction = (message.reactions || []).find((item) => item.emoji === emoji);
  return Boolean(reaction) && reaction.user_ids.includes(userId);
}

// The frame that toggles `userId`'s `emoji` on `message`.
export function reactFrame(message, emoji, userId) {
  return { type: "react", message_id: message.id, emoji, on: !hasReacted(message, emoji, userId) };
}

// "You, alice and bob", "alice, bob, carol and 2 others", or "3 people" when no
// name is known. `names` maps user ids to names (from messages and members);
// the server lists at most 50 user_ids, `count` counts them all.
export function reactionTitle(reaction, names, meId) {
  const known = [];
  reaction.user_ids.forEach((id) => {
    if (id === meId) known.unshift(gettext("You"));
    else if (names.has(id)) known.push(names.get(id));
  });
  const count = Math.max(reaction.count, reaction.user_ids.length);
  if (!known.length) return ngettext("%(count)s person", "%(count)s people", count);
  const shown = known.slice(0, NAMES_SHOWN);
  const others = count - shown.length;
  if (others <= 0) {
    return shown.length === 1 ? shown[0] : gettext("%(names)s and %(last)s", { names: shown.slice(0, -1).join(", "), last: shown.at(-1) });
  }
  return ngettext("%(names)s and %(count)s other", "%(names)s and %(count)s others", others, { names: shown.join(", ") });
}

export function excerpt(text, chars = EXCERPT_CHARS) {
  const flat = (text || "").replace(/\s+/g, " ").trim();
  return flat.length > chars ? `${flat.slice(0, chars - 1)}…` : flat;
}

// The quoted line of a reply: its author and excerpt, or that it is gone.
export function replyQuote(replyTo) {
  if (!replyTo) return null;
  if (replyTo.deleted) return { author: "", text: gettext("deleted message"), deleted: true };
  return { author: replyTo.author ? replyTo.author.username : "", text: excerpt(replyTo.excerpt), deleted: false };
}

// The latest update seq applied to each message: an older update (a replay
// after a newer state) must not undo what is shown.
export class MessageStates {
  constructor() {
    this.seqs = new Map(); // message id -> seq of the update its state reflects
  }

  // Whether an update with `seq` for message `id` is newer than what is shown.
  accept(id, seq) {
    if (typeof seq !== "number") return true;
    if ((this.seqs.get(id) || 0) >= seq) return false;
    this.seqs.set(id, seq);
    return true;
  }
}

// The composer's mode: a new message, a reply to `target`, or an edit of it.
export class ComposerMode {
  constructor() {
    this.cancel();
  }

  reply(message) {
    this.kind = "reply";
    this.target = message;
  }

  edit(message) {
    this.kind = "edit";
    this.target = message;
  }

  cancel() {
    this.kind = "new";
    this.target = null;
  }

  // What the bar above the composer says, or "" in the plain mode.
  label() {
    if (this.kind === "reply") return gettext("Replying to %(name)s", { name: this.target.author.username });
    if (this.kind === "edit") return gettext("Editing your message");
    return "";
  }

  // The frame for `body`, with the `client_id` of a send.
  frame(body, clientId) {
    if (this.kind === "edit") return { type: "edit", message_id: this.target.id, body };
    const frame = { type: "send", body, client_id: clientId };
    if (this.kind === "reply") frame.reply_to = this.target.id;
    return frame;
  }

  // A message changed: a deleted target ends the reply or edit.
  changed(message) {
    if (this.target && this.target.id === message.id) {
      if (message.deleted) this.cancel();
      else this.target = message;
    }
  }
}
