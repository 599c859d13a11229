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

// The locale for dates and numbers: the reader's own regional variant of the
// page's language when the browser prefers one (en-GB reads 24-hour times),
// else the page's language; never another language than the page's.
export function formatLocale(page = language(), preferred = browserLocales()) {
  const base = page.toLowerCase().split("-")[0];
  return preferred.find((tag) => tag.toLowerCase().split("-")[0] === base) || page;
}

function browserLocales() {
  if (typeof navigator === "undefined") return [];
  return navigator.languages || (navigator.language ? [navigator.language] : []);
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
