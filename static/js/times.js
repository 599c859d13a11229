// Times in the reader's own time zone and in the page's language (with their
// regional variant of it: i18n.formatLocale): the server
// renders every time as <time datetime="ISO 8601"> and this module writes what
// it shows, so a time reads the same wherever it is (rooms, the room list, the
// notifications page, items added live).

import { formatLocale } from "./i18n.js";

let formats = null;

function formatsFor() {
  if (formats === null) {
    const lang = formatLocale();
    formats = {
      time: new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" }),
      dateTime: new Intl.DateTimeFormat(lang, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }),
      yearDateTime: new Intl.DateTimeFormat(lang, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }),
      full: new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "short" }),
      relative: new Intl.RelativeTimeFormat(lang, { numeric: "auto" }),
    };
  }
  return formats;
}

const RELATIVE_UNITS = [["day", 86400], ["hour", 3600], ["minute", 60]];
const RELATIVE_FOR_SECONDS = 7 * 86400;

// The one absolute format: the time today, the day and time this year, else with the year.
export function absoluteTime(date, now = new Date()) {
  const f = formatsFor();
  if (date.toDateString() === now.toDateString()) return f.time.format(date);
  return (date.getFullYear() === now.getFullYear() ? f.dateTime : f.yearDateTime).format(date);
}

export function fullTime(date) {
  return formatsFor().full.format(date);
}

export function formatTime(element) {
  const date = new Date(element.getAttribute("datetime"));
  if (Number.isNaN(date.getTime())) return;
  element.textContent = absoluteTime(date);
  element.title = fullTime(date);
}

export function formatAllTimes(root) {
  root.querySelectorAll("time[datetime]").forEach(formatTime);
}

// "5 minutes ago" for the last week, then the one absolute format.
export function relativeTime(iso, now = Date.now()) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const seconds = Math.round((date.getTime() - now) / 1000);
  if (Math.abs(seconds) > RELATIVE_FOR_SECONDS) return absoluteTime(date, new Date(now));
  const relative = formatsFor().relative;
  for (const [unit, size] of RELATIVE_UNITS) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(0, "second");
}

// For tests: forget the formats made for the previous language.
export function resetFormats() {
  formats = null;
}
