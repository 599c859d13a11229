import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def fill_keys(apps, schema_editor):
    """Give every existing user their look-alike key; of users who already look
    alike, the oldest keeps it (the others get NULL, as staff-made look-alikes do)."""
    from accounts.usernames import username_key

    User = apps.get_model(settings.AUTH_USER_MODEL)
    UsernameKey = apps.get_model("accounts", "UsernameKey")
    taken = set()
    rows = []
    for pk, username in User.objects.order_by("pk").values_list("pk", "username"):
        key = username_key(username)
        rows.append(UsernameKey(user_id=pk, key=None if key in taken else key))
        taken.add(key)
    UsernameKey.objects.bulk_create(rows, batch_size=1000)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="UsernameKey",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="username_key",
                        serialize=False,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                ("key", models.TextField(null=True, unique=True)),
            ],
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
    ]
