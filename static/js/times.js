// Times in the reader's own time zone and language: the server renders UTC.

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
});
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

const RELATIVE_UNITS = [["day", 86400], ["hour", 3600], ["minute", 60]];
const RELATIVE_FOR_SECONDS = 7 * 86400;

function isToday(date) {
  return date.toDateString() === new Date().toDateString();
}

export function formatTime(element) {
  const date = new Date(element.getAttribute("datetime"));
  if (Number.isNaN(date.getTime())) return;
  element.textContent = (isToday(date) ? timeFormat : dateTimeFormat).format(date);
  element.title = fullFormat.format(date);
}

export function formatAllTimes(root) {
  root.querySelectorAll("time[datetime]").forEach(formatTime);
}

// "5 minutes ago" for the last week, then the full local date.
export function relativeTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  if (Math.abs(seconds) > RELATIVE_FOR_SECONDS) return date.toLocaleString();
  for (const [unit, size] of RELATIVE_UNITS) {
    if (Math.abs(seconds) >= size) return relativeFormat.format(Math.round(seconds / size), unit);
  }
  return relativeFormat.format(0, "second");
}
