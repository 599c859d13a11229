"""Full-text search of messages: who may find what, the query for each database,
and the snippet with the matching words marked.

The indexes are made by chat/migrations/0007_message_search.py:

- PostgreSQL: `chat_message.search_vector` (the body under the `english` and the
  `russian` text search configurations together) with a GIN index over the
  messages that are not deleted. The query is what people type, read by
  `websearch_to_tsquery` under both configurations: "messages" finds "message",
  "сообщения" finds "сообщение"; "quoted phrases", `or` and `-word` work.
- SQLite: the FTS5 table `chat_message_fts` (unicode61 tokenizer: any case,
  Cyrillic too), kept in step by triggers. The same syntax is translated to an
  FTS5 expression here; every word of three letters or more also matches as a
  prefix ("mess" finds "message"), since FTS5 has no stemming for these languages.

Results are the messages of the rooms the user may read right now (public
rooms, and the rooms they are a member of: the rule of
chat.selectors.room_for_reader), never a deleted one, newest first: by
(created_at, id) on PostgreSQL, by id on SQLite (the same order there: see
sqlite_ids_sql). Pages are keyset pages (Cursor), so a message stored while
someone pages never shifts what the next page holds.

How each database is kept fast at a million messages (bench/search.py) is told
at _postgresql_ids and sqlite_ids_sql, and in the migration (the statistics
target of the search column).
"""

import html
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db import OperationalError, connection, transaction
from django.db.models import BooleanField, Case, F, Q, QuerySet, TextField, Value, When
from django.db.models.expressions import Func, RawSQL
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import Membership, Message, Room, RoomBan
from .selectors import room_display_names

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

PAGE_SIZE = 20
# A snippet shows about this many characters around the first match (SQLite;
# PostgreSQL's ts_headline counts words: HEADLINE_OPTIONS).
SNIPPET_CHARS = 240
SNIPPET_BEFORE_CHARS = 60
# Private-use characters that mark a match in ts_headline's output: removed from
# the body before it is marked, so the only ones left are the marks.
MARK_START = "\ue000"
MARK_STOP = "\ue001"
HEADLINE_OPTIONS = (
    f'StartSel="{MARK_START}", StopSel="{MARK_STOP}", MaxWords=35, MinWords=15, ShortWord=2'
)

# The triggers that keep chat_message_fts in step (as made by migration 0007):
# a migration that rebuilds chat_message on SQLite must make them again.
SQLITE_TRIGGERS = ("chat_message_fts_insert", "chat_message_fts_update", "chat_message_fts_delete")

# SQLite: a query word this long or longer also matches as a prefix.
PREFIX_MIN_CHARS = 3

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]  # a phrase when more than one
    negated: bool


@dataclass(frozen=True)
class ParsedQuery:
    """A query as people type it: terms all required, `or` between two of them
    makes either do, `-` in front excludes, quotes make a phrase."""

    groups: tuple[tuple[Term, ...], ...]  # OR of groups, each an AND of terms

    @property
    def words(self) -> list[str]:
        """The words a result may show marked (the ones not excluded)."""
        return [w for group in self.groups for t in group if not t.negated for w in t.words]

    @property
    def searchable(self) -> bool:
        """Whether every alternative asks for at least one word."""
        return bool(self.groups) and all(
            any(not term.negated for term in group) for group in self.groups
        )


def parse_query(text: str) -> ParsedQuery:
    """Read `text` with websearch_to_tsquery's syntax (quotes, `or`, `-`)."""
    groups: list[list[Term]] = [[]]
    for match in _TOKEN.finditer(text):
        negated_phrase, phrase, bare = match.groups()
        if bare is not None and bare.lower() == "or":
            if groups[-1]:
                groups.append([])
            continue
        if phrase is not None:
            negated, words = bool(negated_phrase), _WORD.findall(phrase)
        else:
            negated = bare.startswith("-") and len(bare) > 1
            words = _WORD.findall(bare[1:] if negated else bare)
        if words:
            groups[-1].append(Term(tuple(w.lower() for w in words), negated))
    return ParsedQuery(tuple(tuple(group) for group in groups if group))


def fts5_expression(query: ParsedQuery) -> str:
    """Return the FTS5 MATCH expression for `query` (only \\w+ words go in, each
    quoted: nothing a user types is read as FTS5 syntax)."""

    def phrase(term: Term) -> str:
        # A prefix of one or two letters would match a good part of the index.
        star = "*" if len(term.words[-1]) >= PREFIX_MIN_CHARS else ""
        return '"' + " ".join(term.words) + '"' + star

    alternatives = []
    for group in query.groups:
        wanted = " AND ".join(phrase(t) for t in group if not t.negated)
        for term in group:
            if term.negated:
                wanted = f"({wanted}) NOT {phrase(term)}"
        alternatives.append(f"({wanted})")
    return " OR ".join(alternatives)


@dataclass(frozen=True)
class SearchHit:
    message_id: int
    seq: int
    room_slug: str
    room_name: str
    room_kind: str
    author_username: str
    created_at: datetime
    snippet: SafeString


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last result's time and id."""

    created_at: datetime
    message_id: int

    _EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
    _FORMAT = re.compile(r"(\d{1,18})_(\d{1,18})")

    def __str__(self) -> str:
        micros = (self.created_at - self._EPOCH) // timedelta(microseconds=1)
        return f"{micros}_{self.message_id}"

    @classmethod
    def parse(cls, text: str) -> "Cursor | None":
        """Read a cursor made by str(); None for anything else."""
        match = cls._FORMAT.fullmatch(text)
        if match is None:
            return None
        try:
            created_at = cls._EPOCH + timedelta(microseconds=int(match[1]))
        except OverflowError:
            return None
        return cls(created_at, int(match[2]))


@dataclass(frozen=True)
class SearchPage:
    hits: list[SearchHit]
    next_cursor: Cursor | None  # where the next page starts, when more results remain


def readable_room_ids(*, user: "User") -> QuerySet[Room, Any]:
    """The ids of the rooms `user` may read right now: public ones they are not
    banned from, and their own (selectors.room_for_reader's rule)."""
    return (
        Room.objects.filter(
            Q(kind=Room.Kind.PUBLIC)
            | Q(pk__in=Membership.objects.filter(user=user).values("room_id"))
        )
        .exclude(pk__in=RoomBan.objects.filter(user=user).values("room_id"))
        .order_by()
        .values("pk")
    )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _matching(query_text: str, parsed: ParsedQuery) -> RawSQL:
    if connection.vendor == "postgresql":
        return RawSQL(
            '"chat_message"."search_vector" @@ '
            "(websearch_to_tsquery('english'::regconfig, %s) "
            "|| websearch_to_tsquery('russian'::regconfig, %s))",
            [query_text, query_text],
            output_field=BooleanField(),
        )
    return RawSQL(
        '"chat_message"."id" IN '
        "(SELECT rowid FROM chat_message_fts WHERE chat_message_fts MATCH %s)",
        [fts5_expression(parsed)],
        output_field=BooleanField(),
    )


@dataclass(frozen=True)
class _Filters:
    user: "User"
    room: Room | None
    author: "User | None"
    start: datetime | None
    end: datetime | None
    cursor: Cursor | None


def search_messages(
    *,
    user: "User",
    query: str,
    room: Room | None = None,
    author: "User | None" = None,
    after: date | None = None,
    before: date | None = None,
    cursor: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> SearchPage:
    """Return a page of the messages matching `query` that `user` may read now.

    `room` and `author` narrow it; `after` and `before` are days in the current
    time zone, neither included (messages of later days, of earlier days).
    `cursor` continues after a page's last result. The caller validates
    `room` with chat.selectors.room_for_reader; it is checked again here.
    """
    parsed = parse_query(query)
    if not parsed.searchable:
        return SearchPage([], None)
    filters = _Filters(
        user=user,
        room=room,
        author=author,
        start=_day_start(after + timedelta(days=1)) if after is not None else None,
        end=_day_start(before) if before is not None else None,
        cursor=cursor,
    )
    if connection.vendor == "postgresql":
        ids = _postgresql_ids(query, filters, limit + 1)
    else:
        ids = _sqlite_ids(parsed, filters, limit + 1)
    hits = _hits(ids[:limit], parsed, query, user)
    more = len(ids) > limit and bool(hits)
    return SearchPage(hits, Cursor(hits[-1].created_at, hits[-1].message_id) if more else None)


# PostgreSQL: how long the planner's own plan may run before the bitmap plan
# takes over (_postgresql_ids).
PLANNER_DEADLINE_MS = 150
QUERY_CANCELED = "57014"


def postgresql_matches(query: str, filters: _Filters) -> QuerySet[Message]:
    """The matching messages `filters.user` may read, newest first (PostgreSQL)."""
    messages = Message.objects.filter(
        _matching(query, parse_query(query)),
        deleted_at__isnull=True,
        room_id__in=readable_room_ids(user=filters.user),
    )
    if filters.room is not None:
        messages = messages.filter(room=filters.room)
    if filters.author is not None:
        messages = messages.filter(author=filters.author)
    if filters.start is not None:
        messages = messages.filter(created_at__gte=filters.start)
    if filters.end is not None:
        messages = messages.filter(created_at__lt=filters.end)
    if filters.cursor is not None:
        position = filters.cursor
        messages = messages.filter(
            Q(created_at__lt=position.created_at)
            | Q(created_at=position.created_at, pk__lt=position.message_id),
            created_at__lte=position.created_at,
        )
    return messages.order_by("-created_at", "-pk")


def _postgresql_ids(query: str, filters: _Filters, limit: int) -> list[int]:
    """Newest first by (created_at, id): the planner's plan first, with a deadline.

    Walking the created_at index from the newest (or from the end of the date
    range) finds a page of a common word at once, and that is what the planner
    picks for anything it thinks common; but for what matches little after all (a
    phrase of common words, `word -word`) the walk reads the whole table: 1.5 s at
    a million rows (bench/search.py). Past PLANNER_DEADLINE_MS the query is
    cancelled and read again with plain index scans off, by the GIN index's
    bitmap, which is quick exactly when few messages match. (Asking the bitmap
    first how many match cost common words more than it saved.)
    """
    messages = postgresql_matches(query, filters).values_list("pk", flat=True)[:limit]
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL statement_timeout = {int(PLANNER_DEADLINE_MS)}")
            ids = list(messages)
            # Inside a caller's transaction SET LOCAL would outlive this block.
            cursor.execute("SET LOCAL statement_timeout TO DEFAULT")
            return ids
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) != QUERY_CANCELED:
            raise
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        ids = list(messages)
        cursor.execute("SET LOCAL enable_indexscan TO DEFAULT")
        cursor.execute("SET LOCAL enable_seqscan TO DEFAULT")
        return ids


def _sqlite_ids(parsed: ParsedQuery, filters: _Filters, limit: int) -> list[int]:
    sql, params = sqlite_ids_sql(parsed, filters, limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def sqlite_ids_sql(parsed: ParsedQuery, filters: _Filters, limit: int) -> tuple[str, list[Any]]:
    """The ids query on SQLite: newest first by id, read from the FTS5 table in
    descending rowid order and stopped at `limit`: no list of every match is
    made and sorted (a common word matched a quarter of a million messages).
    SQLite takes the write lock before a message gets its created_at, so ids
    follow time here."""
    readable_sql, readable_params = readable_room_ids(user=filters.user).query.sql_with_params()
    where = ["chat_message_fts MATCH %s", "m.deleted_at IS NULL", f"m.room_id IN ({readable_sql})"]
    params: list[Any] = [fts5_expression(parsed), *readable_params]
    ops = connection.ops
    for condition, value in (
        ("m.room_id = %s", filters.room.pk if filters.room else None),
        ("m.author_id = %s", filters.author.pk if filters.author else None),
        ("m.created_at >= %s", ops.adapt_datetimefield_value(filters.start)),
        ("m.created_at < %s", ops.adapt_datetimefield_value(filters.end)),
        ("chat_message_fts.rowid < %s", filters.cursor.message_id if filters.cursor else None),
    ):
        if value is not None:
            where.append(condition)
            params.append(value)
    # Only the constant fragments above go into the text; every value is a parameter.
    conditions = " AND ".join(where)
    sql = (
        "SELECT m.id FROM chat_message_fts JOIN chat_message AS m"  # noqa: S608
        f" ON m.id = chat_message_fts.rowid WHERE {conditions}"
        " ORDER BY chat_message_fts.rowid DESC LIMIT %s"
    )
    return sql, [*params, limit]


def _hits(ids: list[int], parsed: ParsedQuery, query: str, user: "User") -> list[SearchHit]:
    """Read the page's messages (in the order of `ids`) with their snippets."""
    if not ids:
        return []
    rows = Message.objects.filter(pk__in=ids).select_related("room", "author")
    if connection.vendor == "postgresql":
        rows = rows.annotate(headline=_headline(query))
    by_id = {message.pk: message for message in rows}
    messages = [by_id[pk] for pk in ids if pk in by_id]
    names = room_display_names(
        rooms=list({m.room_id: m.room for m in messages}.values()), user=user
    )
    hits = []
    for message in messages:
        if connection.vendor == "postgresql":
            snippet = mark_headline(message.headline)  # type: ignore[attr-defined]
        else:
            snippet = mark_words(message.body, parsed.words)
        hits.append(
            SearchHit(
                message_id=message.pk,
                seq=message.seq,
                room_slug=message.room.slug,
                room_name=names.get(message.room_id, message.room.name),
                room_kind=message.room.kind,
                author_username=message.author.username,
                created_at=message.created_at,
                snippet=snippet,
            )
        )
    return hits


# The body is escaped before ts_headline reads it: its parser takes anything
# like a tag (`<div>`, `a<b and c>d`) for markup and leaves it out.
_SQL_ESCAPES = (
    (MARK_START, ""),
    (MARK_STOP, ""),
    ("&", "&amp;"),
    ("<", "&lt;"),
    (">", "&gt;"),
    ('"', "&quot;"),
    ("'", "&#x27;"),
)


def _headline(query: str) -> Func:
    """ts_headline of the escaped body; it parses the body again under
    `russian`, which stems Russian words with the Russian stemmer and Latin ones
    with the English one, so it finds the words either half of the query matched."""
    body: F | Func = F("body")
    for old, new in _SQL_ESCAPES:
        body = Func(body, Value(old), Value(new), function="replace", output_field=TextField())
    tsquery = RawSQL(
        "(websearch_to_tsquery('english'::regconfig, %s) "
        "|| websearch_to_tsquery('russian'::regconfig, %s))",
        [query, query],
    )
    return Func(
        RawSQL("'russian'::regconfig", []),
        body,
        tsquery,
        # A short message is shown whole (ts_headline picks a fragment otherwise,
        # and may leave out its first words).
        Case(
            When(
                LessThanOrEqual(Length("body"), SNIPPET_CHARS),
                then=Value(f"{HEADLINE_OPTIONS}, HighlightAll=true"),
            ),
            default=Value(HEADLINE_OPTIONS),
            output_field=TextField(),
        ),
        function="ts_headline",
        output_field=TextField(),
    )


def mark_headline(headline: str) -> SafeString:
    """Return ts_headline's output escaped, its marks turned into <mark> elements.

    It was made from the escaped body; it is read back to text and escaped here
    again, so whatever it holds, only our own marks become markup."""
    text = escape(html.unescape(headline))
    return mark_safe(  # noqa: S308 - escaped above; only our own marks become tags
        text.replace(MARK_START, "<mark>").replace(MARK_STOP, "</mark>")
    )


def _fold(word: str) -> str:
    """Compare words as unicode61 with remove_diacritics does: any case, no accents."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def mark_words(text: str, words: list[str]) -> SafeString:
    """Return a snippet of `text`, escaped, with the words SQLite's query matched
    marked: the ones equal to one of `words`, or starting with one of at least
    PREFIX_MIN_CHARS."""
    exact = {_fold(w) for w in words}
    prefixes = tuple(w for w in exact if len(w) >= PREFIX_MIN_CHARS)

    def matched(word: str) -> bool:
        folded = _fold(word)
        return folded in exact or (bool(prefixes) and folded.startswith(prefixes))

    matches = [m for m in _WORD.finditer(text) if matched(m.group())]
    start, end = 0, len(text)
    if len(text) > SNIPPET_CHARS:
        first = matches[0].start() if matches else 0
        start = max(0, first - SNIPPET_BEFORE_CHARS)
        if start:
            # Begin at a word, not inside one.
            space = text.find(" ", start, first)
            start = space + 1 if space != -1 else start
        end = min(len(text), start + SNIPPET_CHARS)
    parts = ["…" if start else ""]
    position = start
    for match in matches:
        if match.start() < start:
            continue
        if match.end() > end:
            break
        parts.append(escape(text[position : match.start()]))
        parts.append(f"<mark>{escape(match.group())}</mark>")
        position = match.end()
    parts.append(escape(text[position:end]))
    parts.append("…" if end < len(text) else "")
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text is escaped
