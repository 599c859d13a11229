"""Message search (chat.search, /chat/search/): who finds what, the index kept in
step with edits and deletions, the query syntax, filters, pages, and the room
page opened at a result (?at=<seq>). Runs on SQLite, and on PostgreSQL when
DATABASE_URL names one."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.test import override_settings
from django.utils import timezone
from django.utils.html import escape

from chat import moderation, search, services
from chat.models import Message, Room

POSTGRESQL = connection.vendor == "postgresql"
HOSTILE = '<script>alert(1)</script> needle <img src=x onerror="alert(2)">'


def post(room, author, body):
    n = Message.objects.count()
    return services.message_create(room=room, author=author, body=body, client_id=f"s{n}").message


def found(user, query, **filters):
    return [
        hit.message_id for hit in search.search_messages(user=user, query=query, **filters).hits
    ]


@pytest.fixture
def logged_in(client):
    def login(user):
        client.force_login(user)
        return client

    return login


# ---- Who finds what ----------------------------------------------------------------


@pytest.mark.django_db
def test_finds_messages_of_readable_rooms_newest_first(public_room, alice, bob):
    first = post(public_room, alice, "the launch checklist is ready")
    post(public_room, alice, "lunch at noon")
    second = post(public_room, alice, "checklist updated")
    # bob never joined the public room: its messages are his to read, and to find.
    assert found(bob, "checklist") == [second.pk, first.pk]


@pytest.mark.django_db
def test_private_room_left_is_not_searched(private_room, alice, bob):
    message = post(private_room, alice, "quarterly numbers")
    assert found(bob, "quarterly") == [message.pk]
    services.room_leave(room=private_room, user=bob)
    assert found(bob, "quarterly") == []
    assert found(alice, "quarterly") == [message.pk]


@pytest.mark.django_db
def test_member_removed_from_private_room_finds_nothing_there(private_room, alice, bob):
    post(private_room, alice, "offsite venue")
    services.member_remove(room=private_room, actor=alice, username="bob")
    assert found(bob, "offsite") == []


@pytest.mark.django_db
def test_public_room_a_user_is_banned_from_is_not_searched(alice, bob):
    room = services.room_create(name="Town square", created_by=alice)
    message = post(room, alice, "harvest festival")
    assert found(bob, "harvest") == [message.pk]
    moderation.member_ban(room=room, actor=alice, username="bob")
    assert found(bob, "harvest") == []
    assert found(alice, "harvest") == [message.pk]


@pytest.mark.django_db
def test_direct_messages_of_others_are_never_found(alice, bob, carol):
    room = services.direct_room_open(user=alice, username="bob")
    message = post(room, alice, "my secret recipe")
    assert found(bob, "recipe") == [message.pk]
    assert found(carol, "recipe") == []


@pytest.mark.django_db
def test_private_room_of_others_is_never_found(private_room, alice, carol):
    post(private_room, alice, "surprise party")
    assert found(carol, "surprise") == []
    # Naming the room does not help either.
    assert found(carol, "surprise", room=private_room) == []


@pytest.mark.django_db
def test_deleted_message_is_never_found(public_room, alice):
    message = post(public_room, alice, "wrong password hunter2")
    services.message_delete(room=public_room, actor=alice, message_id=message.pk)
    assert found(alice, "hunter2") == []
    assert found(alice, "password") == []


@pytest.mark.django_db
def test_edited_message_is_found_by_its_new_text_only(public_room, alice):
    message = post(public_room, alice, "meeting on tuesday")
    services.message_edit(
        room=public_room, actor=alice, message_id=message.pk, body="meeting on friday"
    )
    assert found(alice, "tuesday") == []
    assert found(alice, "friday") == [message.pk]


@pytest.mark.django_db
def test_deleting_a_room_or_its_messages_keeps_the_index_in_step(public_room, alice):
    post(public_room, alice, "ephemeral words")
    Room.objects.filter(pk=public_room.pk).delete()
    other = services.room_create(name="Other", created_by=alice)
    message = post(other, alice, "ephemeral again")
    assert found(alice, "ephemeral") == [message.pk]


# ---- The query ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_query_syntax_phrases_or_and_exclusion(public_room, alice):
    red_apple = post(public_room, alice, "a red apple")
    green_apple = post(public_room, alice, "a green apple")
    pear = post(public_room, alice, "a red pear")
    assert found(alice, "apple") == [green_apple.pk, red_apple.pk]
    assert found(alice, "red apple") == [red_apple.pk]
    assert found(alice, '"green apple"') == [green_apple.pk]
    assert found(alice, '"apple green"') == []
    assert found(alice, "apple -green") == [red_apple.pk]
    assert found(alice, "pear or green") == [pear.pk, green_apple.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ['"', 'a"b', "NEAR(x y)", "*", "body:x", "x AND", "(((", "-", "^x", "'; DROP TABLE x; --"],
)
def test_any_typed_query_is_safe(public_room, alice, query):
    post(public_room, alice, "x marks the spot")
    search.search_messages(user=alice, query=query)  # no database error


@pytest.mark.django_db
def test_case_and_cyrillic(public_room, alice):
    ru = post(public_room, alice, "Сообщение про встречу")
    en = post(public_room, alice, "The MESSAGE was sent")
    assert found(alice, "сообщение") == [ru.pk]
    assert found(alice, "ВСТРЕЧУ") == [ru.pk]
    assert found(alice, "message") == [en.pk]


@pytest.mark.django_db
@pytest.mark.skipif(not POSTGRESQL, reason="word forms: PostgreSQL's stemmers")
def test_word_forms_in_russian_and_english(public_room, alice):
    ru = post(public_room, alice, "Новое сообщение в канале")
    en = post(public_room, alice, "One message arrived")
    assert found(alice, "сообщения") == [ru.pk]
    assert found(alice, "сообщениями") == [ru.pk]
    assert found(alice, "messages") == [en.pk]
    assert found(alice, "arriving") == [en.pk]


@pytest.mark.django_db
@pytest.mark.skipif(POSTGRESQL, reason="prefixes: SQLite's FTS5 query")
def test_words_match_as_prefixes_on_sqlite(public_room, alice):
    message = post(public_room, alice, "deployment finished")
    assert found(alice, "deploy") == [message.pk]
    assert found(alice, "deployments") == []


def test_fts5_expression_quotes_every_word():
    parsed = search.parse_query('red "big apple" -pear or x"y')
    assert search.fts5_expression(parsed) == ('(("red"* AND "big apple"*) NOT "pear"*) OR ("x y")')
    assert not search.parse_query("-pear").searchable
    assert not search.parse_query("!!! ...").searchable


# ---- The snippet --------------------------------------------------------------------------


@pytest.mark.django_db
def test_snippet_escapes_the_text_then_marks_the_words(public_room, alice):
    post(public_room, alice, HOSTILE)
    (hit,) = search.search_messages(user=alice, query="needle").hits
    assert "<script>" not in hit.snippet and "<img" not in hit.snippet
    assert "&lt;img src=x" in hit.snippet
    assert "<mark>needle</mark>" in hit.snippet
    assert hit.snippet.count("<mark>") == hit.snippet.count("</mark>") == 1
    # A short message is shown whole.
    assert hit.snippet.replace("<mark>", "").replace("</mark>", "") == escape(HOSTILE)


@pytest.mark.django_db
def test_marks_typed_by_a_user_stay_text(public_room, alice):
    body = f"{search.MARK_START}fake{search.MARK_STOP} <mark>also</mark> needle"
    post(public_room, alice, body)
    (hit,) = search.search_messages(user=alice, query="needle").hits
    assert hit.snippet.count("<mark>") == 1 and "&lt;mark&gt;" in hit.snippet


@pytest.mark.django_db
def test_snippet_of_a_long_message_shows_the_match(public_room, alice):
    post(public_room, alice, "filler " * 300 + "needle " + "tail " * 100)
    (hit,) = search.search_messages(user=alice, query="needle").hits
    assert "<mark>needle</mark>" in hit.snippet
    assert len(hit.snippet) < 1000


def test_mark_words_marks_prefixes_any_case():
    assert search.mark_words("Deploy <b>DEPLOYED</b> redeploy", ["deploy"]) == (
        "<mark>Deploy</mark> &lt;b&gt;<mark>DEPLOYED</mark>&lt;/b&gt; redeploy"
    )
    assert search.mark_words("Ёжик и ежевика", ["ежик"]) == "<mark>Ёжик</mark> и ежевика"
    # Short words match whole only, as in the query.
    assert search.mark_words("go gopher", ["go"]) == "<mark>go</mark> gopher"


# ---- Filters and pages ----------------------------------------------------------------


@pytest.mark.django_db
def test_filters_room_author_and_days(public_room, alice, bob):
    other = services.room_create(name="Other", created_by=bob)
    old = post(public_room, alice, "old status")
    Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    mine = post(public_room, alice, "status report")
    bobs = post(public_room, bob, "status report too")
    elsewhere = post(other, bob, "status report elsewhere")
    today = timezone.localdate()
    assert found(alice, "status", room=public_room) == [bobs.pk, mine.pk, old.pk]
    assert found(alice, "status", author=bob) == [elsewhere.pk, bobs.pk]
    assert found(alice, "status", before=today - timedelta(days=5)) == [old.pk]
    assert found(alice, "status", after=today - timedelta(days=5)) == [
        elsewhere.pk,
        bobs.pk,
        mine.pk,
    ]
    assert found(alice, "status", after=today) == []


def test_cursor_reads_back_what_it_wrote():
    cursor = search.Cursor(timezone.now(), 42)
    assert search.Cursor.parse(str(cursor)) == cursor
    assert search.Cursor.parse("12_x") is None and search.Cursor.parse("") is None


@pytest.mark.django_db
def test_pages_follow_time_then_id(public_room, alice):
    ids = [post(public_room, alice, f"tock {n}").pk for n in range(3)]
    same = timezone.now() - timedelta(hours=1)
    Message.objects.filter(pk__in=ids).update(created_at=same)
    first = search.search_messages(user=alice, query="tock", limit=2)
    second = search.search_messages(user=alice, query="tock", limit=2, cursor=first.next_cursor)
    assert [h.message_id for h in first.hits + second.hits] == ids[::-1]


@pytest.mark.django_db
def test_pages_are_stable_while_messages_arrive(public_room, alice):
    ids = [post(public_room, alice, f"ping {n}").pk for n in range(25)]
    first = search.search_messages(user=alice, query="ping")
    assert [h.message_id for h in first.hits] == ids[::-1][:20]
    assert first.next_cursor.message_id == ids[5]
    post(public_room, alice, "ping newer")
    second = search.search_messages(user=alice, query="ping", cursor=first.next_cursor)
    assert [h.message_id for h in second.hits] == ids[::-1][20:]
    assert second.next_cursor is None


# ---- The page --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_search_page_needs_login(client):
    response = client.get("/chat/search/?q=x")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_search_page_lists_results_with_links_to_the_message(logged_in, public_room, alice):
    message = post(public_room, alice, HOSTILE)
    response = logged_in(alice).get("/chat/search/", {"q": "needle"})
    html = response.content.decode()
    assert response.status_code == 200
    assert f'href="/chat/{public_room.slug}/?at={message.seq}"' in html
    assert "<mark>needle</mark>" in html and "<script>alert" not in html
    assert "General" in html and "alice" in html


@pytest.mark.django_db
def test_search_page_without_a_query_shows_the_form(logged_in, alice):
    response = logged_in(alice).get("/chat/search/")
    assert response.status_code == 200 and response.context["results"] is None
    assert not response.context["form"].errors


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"q": ""}, "q", "Type a word"),
        ({"q": "   "}, "q", "Type a word"),
        ({"q": "x" * 201}, "q", "at most 200"),
        ({"q": "-only"}, "q", "at least one word"),
        ({"q": "x", "after": "2026-13-40"}, "after", "YYYY-MM-DD"),
        ({"q": "x", "before": "yesterday"}, "before", "YYYY-MM-DD"),
        ({"q": "x", "room": "no-such-room"}, "room", "no room"),
        ({"q": "x", "room": "bad slug!"}, "room", ""),
        ({"q": "x", "author": "nobody"}, "author", "no user"),
        ({"q": "x", "cursor": "abc"}, "cursor", ""),
        ({"q": "x", "cursor": "-3"}, "cursor", ""),
        ({"q": "x", "cursor": "999999999999999999_1"}, "cursor", "search again"),
        ({"q": "x", "after": "2026-05-02", "before": "2026-05-01"}, "__all__", "before"),
    ],
)
def test_bad_input_is_a_form_error_not_a_failure(logged_in, alice, params, field, words):
    response = logged_in(alice).get("/chat/search/", params)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and words in " ".join(errors[field])
    assert response.context["results"] is None


@pytest.mark.django_db
def test_private_room_filter_is_refused_like_a_missing_room(logged_in, private_room, carol):
    response = logged_in(carol).get("/chat/search/", {"q": "x", "room": private_room.slug})
    assert "room" in response.context["form"].errors
    missing = logged_in(carol).get("/chat/search/", {"q": "x", "room": "nope"})
    assert response.context["form"].errors["room"][0].replace(private_room.slug, "S") == (
        missing.context["form"].errors["room"][0].replace("nope", "S")
    )


@pytest.mark.django_db
def test_search_page_pages_on(logged_in, public_room, alice):
    for n in range(22):
        post(public_room, alice, f"tick {n}")
    client = logged_in(alice)
    first = client.get("/chat/search/", {"q": "tick", "room": public_room.slug})
    next_query = first.context["next_query"]
    assert next_query and len(first.context["results"].hits) == 20
    second = client.get(f"/chat/search/?{next_query}")
    assert len(second.context["results"].hits) == 2
    assert second.context["next_query"] is None and second.context["first_query"]


@pytest.mark.django_db
@override_settings(CHAT_SEARCH_RATE_LIMIT="2/600")
def test_searching_too_fast_is_refused_with_429(logged_in, alice):
    client = logged_in(alice)
    assert client.get("/chat/search/", {"q": "a"}).status_code == 200
    assert client.get("/chat/search/", {"q": "b"}).status_code == 200
    refused = client.get("/chat/search/", {"q": "c"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert refused.context["results"] is None


@pytest.mark.django_db
def test_room_page_has_a_search_box_for_that_room(logged_in, public_room, alice):
    html = logged_in(alice).get(public_room.get_absolute_url()).content.decode()
    assert 'action="/chat/search/"' in html
    assert f'name="room" value="{public_room.slug}"' in html


@pytest.mark.django_db
def test_no_room_takes_the_search_address(alice):
    room = services.room_create(name="Search", created_by=alice)
    assert room.slug != "search"
    assert room.get_absolute_url() != "/chat/search/"


# ---- Opening a room at a message -------------------------------------------------------


@pytest.mark.django_db
def test_room_page_opened_at_an_old_message_holds_the_history_around_it(
    logged_in, public_room, alice
):
    for n in range(1, 121):
        post(public_room, alice, f"line-{n}-end")
    response = logged_in(alice).get(public_room.get_absolute_url(), {"at": 10})
    seqs = [m.seq for m in response.context["history"]]
    assert 10 in seqs and seqs == list(range(1, 51))
    assert response.context["room_config"]["lastSeq"] == 50
    response = logged_in(alice).get(public_room.get_absolute_url(), {"at": 60})
    seqs = [m.seq for m in response.context["history"]]
    assert seqs == list(range(36, 86)) and response.context["has_more"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("at", ["0", "-1", "abc", "999999", "1" * 40])
def test_room_page_ignores_a_bad_at(logged_in, public_room, alice, at):
    for n in range(1, 61):
        post(public_room, alice, f"line-{n}-end")
    response = logged_in(alice).get(public_room.get_absolute_url(), {"at": at})
    assert response.status_code == 200
    assert [m.seq for m in response.context["history"]] == list(range(11, 61))


# ---- The migration ------------------------------------------------------------------------


def _index_exists() -> bool:
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        if POSTGRESQL:
            columns = [
                c.name
                for c in connection.introspection.get_table_description(cursor, "chat_message")
            ]
            return "search_vector" in columns
        return "chat_message_fts" in tables


@pytest.mark.django_db(transaction=True)
def test_migration_indexes_existing_messages_and_goes_back(public_room, alice):
    before = post(public_room, alice, "written before the index")
    executor = MigrationExecutor(connection)
    executor.migrate([("chat", "0006_membership_notify")])
    assert not _index_exists()
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert _index_exists()
    assert found(alice, "written") == [before.pk]
    after = post(public_room, alice, "written after")
    assert found(alice, "written") == [after.pk, before.pk]


@pytest.mark.django_db(transaction=True)
def test_migration_moves_a_room_off_the_search_address(alice):
    executor = MigrationExecutor(connection)
    before = [("chat", "0006_membership_notify")]
    executor.migrate(before)
    # The model as that migration left it (later ones add columns).
    old_room = executor.loader.project_state(before).apps.get_model("chat", "Room")
    old_room.objects.create(slug="search", name="Search")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert Room.objects.get(name="Search").slug == "room-search"


@pytest.mark.django_db
@pytest.mark.skipif(POSTGRESQL, reason="the triggers are SQLite's")
def test_sqlite_triggers_are_in_place():
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        names = {row[0] for row in cursor.fetchall()}
    assert set(search.SQLITE_TRIGGERS) <= names


@pytest.mark.django_db
@pytest.mark.parametrize("deadline_ms", [0, 150])
def test_same_results_whichever_plan_reads_them(public_room, alice, monkeypatch, deadline_ms):
    """PostgreSQL reads with the planner's plan, or past its deadline by bitmap
    scans: the page is the same (a deadline of 0 is none: pg_sleep stands in
    for a slow plan)."""
    ids = [post(public_room, alice, f"plan word {n}").pk for n in range(5)]
    if POSTGRESQL and deadline_ms:
        # A plan slower than the deadline: the filter sleeps on every row.
        slow = RawSQL("pg_sleep(0.05) IS NOT NULL", [], output_field=BooleanField())
        original = search.postgresql_matches
        monkeypatch.setattr(search, "postgresql_matches", lambda *a: original(*a).filter(slow))
        monkeypatch.setattr(search, "PLANNER_DEADLINE_MS", 20)
    first = search.search_messages(user=alice, query="plan", limit=3)
    second = search.search_messages(user=alice, query="plan", limit=3, cursor=first.next_cursor)
    assert [h.message_id for h in first.hits + second.hits] == ids[::-1]
    if POSTGRESQL:
        # The settings are back for what follows in the same transaction.
        with connection.cursor() as cursor:
            cursor.execute("SHOW enable_indexscan")
            assert cursor.fetchone()[0] == "on"
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone()[0] == "0"
