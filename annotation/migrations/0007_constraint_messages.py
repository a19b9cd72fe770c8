"""Human, translated messages for the item constraints (no SQL: AlterConstraint is a no-op).

The admin showed `Constraint "item_accepted_is_classified" is violated.` before."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0006_origin_index_skips_pending_translation'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterConstraint(
            model_name='item',
            name='item_source_valid',
            constraint=models.CheckConstraint(condition=models.Q(('source__in', ['manual', 'synthetic', 'translated'])), name='item_source_valid', violation_error_message='The source must be manual, synthetic or translated.'),
        ),
        migrations.AlterConstraint(
            model_name='item',
            name='item_categorization_valid',
            constraint=models.CheckConstraint(condition=models.Q(('categorization__in', ['', 'person', 'social', 'nation'])), name='item_categorization_valid', violation_error_message='The category must be person, social or nation.'),
        ),
        migrations.AlterConstraint(
            model_name='item',
            name='item_status_valid',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['seed', 'pending_translation', 'pending_evolution', 'candidate', 'scored', 'filtered_out', 'in_review', 'accepted', 'rejected'])), name='item_status_valid', violation_error_message='This status does not exist.'),
        ),
        migrations.AlterConstraint(
            model_name='item',
            name='item_instruction_not_empty',
            constraint=models.CheckConstraint(condition=models.Q(('instruction', ''), _negated=True), name='item_instruction_not_empty', violation_error_message='The instruction must not be empty.'),
        ),
        migrations.AlterConstraint(
            model_name='item',
            name='item_output_not_empty',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ('seed', 'pending_evolution')), models.Q(('output', ''), _negated=True), _connector='OR'), name='item_output_not_empty', violation_error_message='The output must not be empty.'),
        ),
        migrations.AlterConstraint(
            model_name='item',
            name='item_accepted_is_classified',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'accepted'), _negated=True), models.Q(('categorization', ''), _negated=True), _connector='OR'), name='item_accepted_is_classified', violation_error_message='An accepted item needs a category (person, social or nation): choose one before accepting.'),
        ),
        migrations.AlterConstraint(
            model_name='item',
            name='item_version_positive',
            constraint=models.CheckConstraint(condition=models.Q(('version__gte', 1)), name='item_version_positive', violation_error_message='The version must be 1 or more.'),
        ),
        migrations.AlterConstraint(
            model_name='item',
            name='item_ifd_not_negative',
            constraint=models.CheckConstraint(condition=models.Q(('ifd__isnull', True), ('ifd__gte', 0), _connector='OR'), name='item_ifd_not_negative', violation_error_message='The IFD score must not be negative.'),
        ),
    ]
