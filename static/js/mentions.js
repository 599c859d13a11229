// @mention autocomplete: the word being typed, the members it matches, and the
// text once one is picked. No DOM here; room.js draws the list.

export const MATCHES_SHOWN = 6;

// The "@…" word that ends at `caret`, as {start, query}, or null. An "@" only
// starts a mention at the start of the text or after a space or an opening bracket.
export function mentionQuery(text, caret) {
  const before = text.slice(0, caret);
  const match = /(^|[\s(])@([\w.+-]*)$/u.exec(before);
  if (!match) return null;
  return { start: caret - match[2].length - 1, query: match[2] };
}

// Names that start with the query first, then names that contain it; each in
// alphabetical order, case-insensitive, without `exclude` (the writer).
export function mentionMatches(names, query, { exclude = "", limit = MATCHES_SHOWN } = {}) {
  const wanted = query.toLowerCase();
  const unique = [...new Set(names)].filter((name) => name && name !== exclude);
  const starts = [];
  const contains = [];
  unique.forEach((name) => {
    const lower = name.toLowerCase();
    if (lower.startsWith(wanted)) starts.push(name);
    else if (wanted && lower.includes(wanted)) contains.push(name);
  });
  const byName = (a, b) => a.toLowerCase().localeCompare(b.toLowerCase());
  return [...starts.sort(byName), ...contains.sort(byName)].slice(0, limit);
}

// The text and caret after picking `name` for the mention at `query.start`.
export function completeMention(text, caret, query, name) {
  const after = text.slice(caret).replace(/^[\w.+-]*/u, "");
  const inserted = `@${name} `;
  const spaced = after.startsWith(" ") ? inserted.trimEnd() : inserted;
  return {
    text: text.slice(0, query.start) + spaced + after,
    caret: query.start + spaced.length + (after.startsWith(" ") ? 1 : 0),
  };
}

// Cycle through `count` options: `delta` +1 or -1 from `index` (-1: none yet).
export function moveActive(index, delta, count) {
  if (!count) return -1;
  if (index < 0) return delta > 0 ? 0 : count - 1;
  return (index + delta + count) % count;
}
