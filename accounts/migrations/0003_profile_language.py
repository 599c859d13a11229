from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_profile"),
    ]

    operations = [
        migrations.AddField(
            model_name="profile",
            name="language",
            field=models.CharField(
                blank=True,
                choices=[("en", "English"), ("ru", "Русский")],
                default="",
                max_length=8,
                verbose_name="Language",
            ),
        ),
    ]
