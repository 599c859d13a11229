"""Full-text search of messages (chat.search), one index per database.

PostgreSQL: a stored generated `search_vector` (the body under the `english`
and the `russian` configurations together) with a GIN index over the messages
that are not deleted, and a larger statistics target for the column. The column is the database's alone: Django never reads
or writes it, and it follows every edit by itself.

SQLite: an FTS5 table over chat_message (external content, unicode61 tokenizer,
case-insensitive for Cyrillic and Latin alike) holding the messages that are
not deleted, kept in step by triggers on insert, on a change of body or
deleted_at, and on delete. A later migration that makes Django rebuild
chat_message on SQLite drops these triggers: recreate them there
(chat.search.SQLITE_TRIGGERS).

`/chat/search/` is the search page now: a room already at that address moves
to `room-search` (as chat.slugs does for new names), keeping its data.
"""

from django.db import migrations

POSTGRESQL_FORWARD = [
    """
    ALTER TABLE chat_message ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (
        to_tsvector('english'::regconfig, body) || to_tsvector('russian'::regconfig, body)
    ) STORED
    """,
    """
    CREATE INDEX chat_message_search ON chat_message USING gin (search_vector)
    WHERE deleted_at IS NULL
    """,
    # More of the most common words in the statistics: a word outside the list
    # is estimated at half the rarest one's frequency, and with the default target
    # that made rare words look common enough to walk the whole table newest first
    # instead of asking the index (bench/search.py, a million messages).
    "ALTER TABLE chat_message ALTER COLUMN search_vector SET STATISTICS 1000",
]
POSTGRESQL_BACKWARD = [
    "DROP INDEX IF EXISTS chat_message_search",
    "ALTER TABLE chat_message DROP COLUMN IF EXISTS search_vector",
]

# Written out here, not imported: a migration must not follow later code.
SQLITE_FORWARD = [
    """
    CREATE VIRTUAL TABLE chat_message_fts USING fts5(
        body, content='chat_message', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2'
    )
    """,
    """
    INSERT INTO chat_message_fts (rowid, body)
    SELECT id, body FROM chat_message WHERE deleted_at IS NULL
    """,
    """
    CREATE TRIGGER chat_message_fts_insert AFTER INSERT ON chat_message
    WHEN new.deleted_at IS NULL BEGIN
        INSERT INTO chat_message_fts (rowid, body) VALUES (new.id, new.body);
    END
    """,
    """
    CREATE TRIGGER chat_message_fts_update AFTER UPDATE OF body, deleted_at ON chat_message
    BEGIN
        INSERT INTO chat_message_fts (chat_message_fts, rowid, body)
        SELECT 'delete', old.id, old.body WHERE old.deleted_at IS NULL;
        INSERT INTO chat_message_fts (rowid, body)
        SELECT new.id, new.body WHERE new.deleted_at IS NULL;
    END
    """,
    """
    CREATE TRIGGER chat_message_fts_delete AFTER DELETE ON chat_message
    WHEN old.deleted_at IS NULL BEGIN
        INSERT INTO chat_message_fts (chat_message_fts, rowid, body)
        VALUES ('delete', old.id, old.body);
    END
    """,
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS chat_message_fts_insert",
    "DROP TRIGGER IF EXISTS chat_message_fts_update",
    "DROP TRIGGER IF EXISTS chat_message_fts_delete",
    "DROP TABLE IF EXISTS chat_message_fts",
]


def move_room_off_search(apps, schema_editor):
    Room = apps.get_model("chat", "Room")
    for room in Room.objects.exclude(kind="direct").filter(slug__iexact="search").order_by("pk"):
        slug, n = "room-search", 2
        while Room.objects.filter(slug=slug).exists():
            slug, n = f"room-search-{n}", n + 1
        Room.objects.filter(pk=room.pk).update(slug=slug)


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0006_membership_notify"),
    ]

    operations = [
        migrations.RunPython(move_room_off_search, migrations.RunPython.noop),
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRESQL_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
