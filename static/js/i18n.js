// The browser client's text, translated on the server: every page renders
// #client-strings (config/client_strings.py) in its language. A string missing
// there shows in English, the source language (as in the unit tests, which run
// without a page). Placeholders are Python's: "%(name)s".

let strings = null;

function table() {
  if (strings === null) {
    const element = typeof document !== "undefined" ? document.getElementById("client-strings") : null;
    strings = element ? JSON.parse(element.textContent) : {};
  }
  return strings;
}

// For tests: the strings a page would render.
export function setStrings(table) {
  strings = table;
}

// The page's language (<html lang>), for Intl's formats and plural rules.
export function language() {
  return (typeof document !== "undefined" && document.documentElement && document.documentElement.lang) || "en";
}

export function interpolate(text, values = {}) {
  return text.replace(/%\((\w+)\)s/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

export function gettext(msgid, values = {}) {
  const text = table()[msgid];
  return interpolate(typeof text === "string" ? text : msgid, values);
}

// `count` picks the form by the language's plural rules (Intl.PluralRules'
// categories, which the server fills for the language); `%(count)s` is filled in.
export function ngettext(singular, plural, count, values = {}) {
  const forms = table()[singular];
  let text;
  if (forms && typeof forms === "object") {
    const category = new Intl.PluralRules(language()).select(count);
    text = forms[category] ?? forms.other;
  }
  if (typeof text !== "string") text = count === 1 ? singular : plural;
  return interpolate(text, { count, ...values });
}
