import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";

import { formatLocale, gettext, interpolate, language, ngettext, setStrings } from "../../static/js/i18n.js";
import { absoluteTime, relativeTime, resetFormats } from "../../static/js/times.js";
import { typingText } from "../../static/js/typing.js";
import { seenByText } from "../../static/js/read-positions.js";

// What a Russian page renders as #client-strings (config/client_strings.py).
const RUSSIAN = {
  "%(name)s is typing…": "%(name)s печатает…",
  "Seen by %(name)s": "Видели: %(name)s",
  "Seen by %(names)s and %(count)s other": {
    one: "Видели: %(names)s и ещё %(count)s человек",
    few: "Видели: %(names)s и ещё %(count)s человека",
    many: "Видели: %(names)s и ещё %(count)s человек",
    other: "Видели: %(names)s и ещё %(count)s человек",
  },
  "%(count)s new notification": {
    one: "%(count)s новое уведомление",
    few: "%(count)s новых уведомления",
    many: "%(count)s новых уведомлений",
    other: "%(count)s новых уведомлений",
  },
};

function pageIn(lang) {
  globalThis.document = { documentElement: { lang }, getElementById: () => null };
  resetFormats();
}

afterEach(() => {
  delete globalThis.document;
  setStrings({});
  resetFormats();
});

describe("i18n", () => {
  it("falls back to the English source without a page", () => {
    setStrings({});
    assert.equal(language(), "en");
    assert.equal(gettext("%(name)s is typing…", { name: "alice" }), "alice is typing…");
    assert.equal(ngettext("%(count)s new notification", "%(count)s new notifications", 1), "1 new notification");
    assert.equal(ngettext("%(count)s new notification", "%(count)s new notifications", 3), "3 new notifications");
  });

  it("fills placeholders and leaves unknown ones", () => {
    assert.equal(interpolate("%(a)s and %(b)s", { a: "x" }), "x and %(b)s");
  });

  it("uses the page's strings and Russian plural forms for 1, 2, 5, 21", () => {
    pageIn("ru");
    setStrings(RUSSIAN);
    const forms = [1, 2, 5, 21].map((n) => ngettext("%(count)s new notification", "%(count)s new notifications", n));
    assert.deepEqual(forms, ["1 новое уведомление", "2 новых уведомления", "5 новых уведомлений", "21 новое уведомление"]);
    assert.equal(typingText(["алиса"]), "алиса печатает…");
    assert.equal(seenByText(["a", "b", "c", "d", "e"]), "Видели: a, b и ещё 3 человека");
  });
});

describe("times", () => {
  it("says relative times in the page's language", () => {
    const now = Date.parse("2026-12-02T10:00:00Z");
    pageIn("ru");
    assert.equal(relativeTime("2026-12-02T09:55:00Z", now), "5 минут назад");
    pageIn("en");
    assert.equal(relativeTime("2026-12-02T09:55:00Z", now), "5 minutes ago");
  });

  it("writes one absolute format: the time today, the date and time before", () => {
    pageIn("ru");
    const now = new Date(2026, 11, 2, 18, 0);
    assert.equal(absoluteTime(new Date(2026, 11, 2, 14, 3), now), "14:03");
    assert.equal(absoluteTime(new Date(2026, 0, 5, 14, 3), now), "5 янв., 14:03");
    assert.match(absoluteTime(new Date(2025, 0, 5, 14, 3), now), /2025/);
    pageIn("en");
    assert.match(absoluteTime(new Date(2026, 0, 5, 14, 3), now), /^Jan 5, (02:03 PM|14:03)$/);
  });
});

describe("formatLocale", () => {
  it("takes the reader's regional variant of the page's language", () => {
    assert.equal(formatLocale("en", ["en-GB", "en"]), "en-GB");
    assert.equal(formatLocale("ru", ["de-DE", "ru-RU"]), "ru-RU");
  });

  it("never formats in another language than the page's", () => {
    assert.equal(formatLocale("ru", ["en-GB", "de"]), "ru");
    assert.equal(formatLocale("en", []), "en");
  });
});
