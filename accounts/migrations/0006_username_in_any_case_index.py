"""An index for finding a user by username in any case (`username__iexact`: a
message's @names when it is rendered, a direct room or a block by name, search
by author), on the user model's table, in each database's form of Django's
lookup. Without it, every message that mentions anyone read the whole table.

PostgreSQL: an index on `UPPER("username"::text)`, the expression the lookup
compares. SQLite: an index in the NOCASE collation, which the lookup's LIKE
uses (SQLite's LIKE optimization).
"""

from django.conf import settings
from django.db import migrations

INDEX = "accounts_username_any_case"

# Written out here, not imported: a migration must not follow later code.
FORWARD = {
    "postgresql": 'CREATE INDEX IF NOT EXISTS {index} ON {table} (UPPER("username"::text))',
    "sqlite": 'CREATE INDEX IF NOT EXISTS {index} ON {table} ("username" COLLATE NOCASE)',
}


def _table(apps, schema_editor) -> str:
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    return schema_editor.quote_name(user_model._meta.db_table)


def forward(apps, schema_editor) -> None:
    statement = FORWARD.get(schema_editor.connection.vendor)
    if statement is not None:
        index = schema_editor.quote_name(INDEX)
        schema_editor.execute(statement.format(index=index, table=_table(apps, schema_editor)))


def backward(apps, schema_editor) -> None:
    if schema_editor.connection.vendor in FORWARD:
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(INDEX)}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_verbose_names"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        # After auth's own: on SQLite, altering a field remakes the table without
        # the indexes Django does not know of (the test of this index says so).
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(forward, backward)]
