"""The annotation guidelines (SPEC §7): one editable text per language, with default texts.

The default texts come from annotation.guidelines, which also serves them to a database
whose rows were flushed (transactional tests).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from annotation.guidelines import DEFAULT_GUIDELINES


def add_defaults(apps, schema_editor):
    Guideline = apps.get_model("annotation", "Guideline")
    for language, body in DEFAULT_GUIDELINES.items():
        Guideline.objects.get_or_create(language=language, defaults={"body": body})


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0008_review_claims_skips_decisions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Guideline",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("language", models.CharField(max_length=16, unique=True)),
                ("body", models.TextField()),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "updated_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={"ordering": ["language"]},
        ),
        migrations.RunPython(add_defaults, migrations.RunPython.noop),
    ]
