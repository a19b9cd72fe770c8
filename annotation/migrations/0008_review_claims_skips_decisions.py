"""The review workspace (SPEC §7): decisions (for undo and progress), skips, saved filters.

`item_review_queue` is the queue in the order claims serve it (IFD high to low, unscored
last, then id), partial on status in_review, so a claim reads the first free row of the index
instead of sorting the queue (PostgreSQL only: SQLite, the quick start, has no NULLS LAST in
an index, and its small queues sort fast); `item_one_claim_per_reviewer` holds a reviewer to
one item.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from ._postgres import run_on_postgresql


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0007_constraint_messages'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ReviewDecision',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('status', models.CharField(choices=[('seed', 'seed'), ('pending_translation', 'pending translation'), ('pending_evolution', 'pending evolution'), ('candidate', 'candidate'), ('scored', 'scored'), ('filtered_out', 'filtered out'), ('in_review', 'in review'), ('accepted', 'accepted'), ('rejected', 'rejected')], max_length=24)),
                ('version', models.PositiveIntegerField(help_text="the item's version after the decision")),
                ('previous_status', models.CharField(choices=[('seed', 'seed'), ('pending_translation', 'pending translation'), ('pending_evolution', 'pending evolution'), ('candidate', 'candidate'), ('scored', 'scored'), ('filtered_out', 'filtered out'), ('in_review', 'in review'), ('accepted', 'accepted'), ('rejected', 'rejected')], max_length=24)),
                ('previous_reason', models.TextField(blank=True, default='')),
                ('previous_reviewed_at', models.DateTimeField(blank=True, null=True)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('undone_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['-id'],
            },
        ),
        migrations.CreateModel(
            name='ReviewSkip',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('skipped_at', models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name='SavedFilter',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=100)),
                ('params', models.JSONField(blank=True, default=dict)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['name', 'id'],
            },
        ),
        migrations.RunPython(
            run_on_postgresql(
                [
                    "CREATE INDEX IF NOT EXISTS item_review_queue ON annotation_item "
                    "(ifd DESC NULLS LAST, id) WHERE status = 'in_review'"
                ]
            ),
            run_on_postgresql(["DROP INDEX IF EXISTS item_review_queue"]),
        ),
        migrations.AddConstraint(
            model_name='item',
            constraint=models.UniqueConstraint(condition=models.Q(('claimed_by__isnull', False), ('status', 'in_review')), fields=('claimed_by',), name='item_one_claim_per_reviewer'),
        ),
        migrations.AddField(
            model_name='reviewdecision',
            name='item',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='review_decisions', to='annotation.item'),
        ),
        migrations.AddField(
            model_name='reviewdecision',
            name='previous_reviewer',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='reviewdecision',
            name='reviewer',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='review_decisions', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='reviewskip',
            name='item',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='review_skips', to='annotation.item'),
        ),
        migrations.AddField(
            model_name='reviewskip',
            name='reviewer',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='review_skips', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='savedfilter',
            name='owner',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='saved_filters', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='reviewdecision',
            index=models.Index(fields=['reviewer', 'created_at'], name='decision_reviewer_time'),
        ),
        migrations.AddIndex(
            model_name='reviewdecision',
            index=models.Index(fields=['item', 'reviewer'], name='decision_item_reviewer'),
        ),
        migrations.AddConstraint(
            model_name='reviewskip',
            constraint=models.UniqueConstraint(fields=('reviewer', 'item'), name='review_skip_unique'),
        ),
        migrations.AddConstraint(
            model_name='savedfilter',
            constraint=models.UniqueConstraint(fields=('owner', 'name'), name='saved_filter_unique_name'),
        ),
    ]
