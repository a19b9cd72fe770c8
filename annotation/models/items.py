"""Items of the VAD dataset, their search keys and their revision history (SPEC §2)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from ..fields import AsciiKeyField, SearchKeysField


class Source(models.TextChoices):
    MANUAL = "manual", _("manual")
    SYNTHETIC = "synthetic", _("synthetic")
    TRANSLATED = "translated", _("translated")


class Categorization(models.TextChoices):
    UNSET = "", _("not classified")
    PERSON = "person", _("person")
    SOCIAL = "social", _("social")
    NATION = "nation", _("nation")


class Status(models.TextChoices):
    SEED = "seed", _("seed")
    PENDING_TRANSLATION = "pending_translation", _("pending translation")
    PENDING_EVOLUTION = "pending_evolution", _("pending evolution")
    CANDIDATE = "candidate", _("candidate")
    SCORED = "scored", _("scored")
    FILTERED_OUT = "filtered_out", _("filtered out")
    IN_REVIEW = "in_review", _("in review")
    ACCEPTED = "accepted", _("accepted")
    REJECTED = "rejected", _("rejected")


# Statuses whose items have no answer yet; every other status needs an output.
STATUSES_WITHOUT_OUTPUT = (Status.SEED, Status.PENDING_EVOLUTION)
REVIEWED_STATUSES = (Status.ACCEPTED, Status.REJECTED)


def in_choices(field: str, choices: type[models.TextChoices]) -> Q:
    return Q(**{f"{field}__in": choices.values})


class Item(models.Model):
    # The five VAD fields (SPEC §1). Stored exactly as imported or edited: never trimmed.
    instruction = models.TextField(verbose_name=pgettext_lazy("model field", "instruction"))
    input = models.TextField(
        blank=True, default="", verbose_name=pgettext_lazy("model field", "input")
    )
    output = models.TextField(
        blank=True, default="", verbose_name=pgettext_lazy("model field", "output")
    )
    source = models.CharField(
        max_length=16, choices=Source.choices, verbose_name=pgettext_lazy("model field", "source")
    )
    categorization = models.CharField(
        max_length=8,
        choices=Categorization.choices,
        blank=True,
        default="",
        verbose_name=pgettext_lazy("model field", "categorization"),
    )

    status = models.CharField(
        max_length=24,
        choices=Status.choices,
        default=Status.CANDIDATE,
        verbose_name=pgettext_lazy("model field", "status"),
    )
    status_reason = models.TextField(
        blank=True, default="", verbose_name=pgettext_lazy("model field", "status reason")
    )
    version = models.PositiveIntegerField(
        default=1, verbose_name=pgettext_lazy("model field", "version")
    )
    content_hash = AsciiKeyField(
        max_length=64,
        null=True,
        blank=True,
        verbose_name=pgettext_lazy("model field", "content hash"),
    )
    source_key = AsciiKeyField(
        max_length=255,
        null=True,
        blank=True,
        verbose_name=pgettext_lazy("model field", "source key"),
    )

    ifd = models.FloatField(null=True, blank=True, verbose_name=pgettext_lazy("model field", "ifd"))
    ifd_ppl = models.FloatField(
        null=True, blank=True, verbose_name=pgettext_lazy("model field", "ifd ppl")
    )
    ifd_model = models.CharField(
        max_length=255,
        blank=True,
        default="",
        verbose_name=pgettext_lazy("model field", "ifd model"),
    )
    # Parameters and cuts of the last scoring run: max_answer_tokens, answer_tokens, cuts, job.
    ifd_params = models.JSONField(
        null=True, blank=True, verbose_name=pgettext_lazy("model field", "ifd params")
    )
    scored_at = models.DateTimeField(
        null=True, blank=True, verbose_name=pgettext_lazy("model field", "scored at")
    )

    origin = models.JSONField(
        default=dict, blank=True, verbose_name=pgettext_lazy("model field", "origin")
    )
    flags = models.JSONField(
        default=list, blank=True, verbose_name=pgettext_lazy("model field", "flags")
    )
    # Nullable links that most items leave empty are indexed only where set (see Meta):
    # an index entry per NULL would cost every bulk import and serve no query.
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        db_index=False,
        verbose_name=pgettext_lazy("model field", "parent"),
    )
    import_job = models.ForeignKey(
        "Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="imported_items",
        verbose_name=pgettext_lazy("model field", "import job"),
    )

    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviewed_items",
        db_index=False,
        verbose_name=pgettext_lazy("model field", "reviewer"),
    )
    reviewed_at = models.DateTimeField(
        null=True, blank=True, verbose_name=pgettext_lazy("model field", "reviewed at")
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="claimed_items",
        db_index=False,
        verbose_name=pgettext_lazy("model field", "claimed by"),
    )
    claim_expires_at = models.DateTimeField(
        null=True, blank=True, verbose_name=pgettext_lazy("model field", "claim expires at")
    )

    created_at = models.DateTimeField(
        auto_now_add=True, verbose_name=pgettext_lazy("model field", "created at")
    )
    updated_at = models.DateTimeField(
        auto_now=True, verbose_name=pgettext_lazy("model field", "updated at")
    )

    class Meta:
        verbose_name = pgettext_lazy("model", "item")
        verbose_name_plural = pgettext_lazy("model", "items")
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["content_hash"], name="item_content_hash_unique"),
            models.UniqueConstraint(fields=["source_key"], name="item_source_key_unique"),
            models.CheckConstraint(
                condition=in_choices("source", Source),
                name="item_source_valid",
                violation_error_message=_("The source must be manual, synthetic or translated."),
            ),
            models.CheckConstraint(
                condition=in_choices("categorization", Categorization),
                name="item_categorization_valid",
                violation_error_message=_("The category must be person, social or nation."),
            ),
            models.CheckConstraint(
                condition=in_choices("status", Status),
                name="item_status_valid",
                violation_error_message=_("This status does not exist."),
            ),
            models.CheckConstraint(
                condition=~Q(instruction=""),
                name="item_instruction_not_empty",
                violation_error_message=_("The instruction must not be empty."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=STATUSES_WITHOUT_OUTPUT) | ~Q(output=""),
                name="item_output_not_empty",
                violation_error_message=_("The output must not be empty."),
            ),
            models.CheckConstraint(
                condition=~Q(status=Status.ACCEPTED) | ~Q(categorization=""),
                name="item_accepted_is_classified",
                violation_error_message=_(
                    "An accepted item needs a category (person, social or nation): "
                    "choose one before accepting."
                ),
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1),
                name="item_version_positive",
                violation_error_message=_("The version must be 1 or more."),
            ),
            models.CheckConstraint(
                condition=Q(ifd__isnull=True) | Q(ifd__gte=0),
                name="item_ifd_not_negative",
                violation_error_message=_("The IFD score must not be negative."),
            ),
            # A reviewer holds at most one item (services.review_claim; SPEC §7).
            models.UniqueConstraint(
                fields=["claimed_by"],
                name="item_one_claim_per_reviewer",
                condition=Q(status="in_review", claimed_by__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["status", "id"], name="item_status_id"),
            models.Index(fields=["source", "status"], name="item_source_status"),
            # Partial: items waiting for translation (most of a SafeRLHF import) have neither
            # a category nor a score, and leaving them out keeps imports fast.
            models.Index(
                fields=["categorization", "status"],
                name="item_category_status",
                condition=~Q(categorization=""),
            ),
            models.Index(
                fields=["status", "ifd"], name="item_status_ifd", condition=Q(ifd__isnull=False)
            ),
            models.Index(fields=["updated_at"], name="item_updated_at"),
            models.Index(fields=["parent"], name="item_parent", condition=Q(parent__isnull=False)),
            models.Index(
                fields=["reviewer", "reviewed_at"],
                name="item_reviewer",
                condition=Q(reviewer__isnull=False),
            ),
            models.Index(
                fields=["claimed_by", "claim_expires_at"],
                name="item_in_review_claims",
                condition=Q(status="in_review"),
            ),
            # item_review_queue (the queue in the order claims serve it) is made by migration
            # 0007 on PostgreSQL only: SQLite has no NULLS LAST in an index.
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.instruction[:40]}"


class ItemSearchText(models.Model):
    """The search keys of an item's text (annotation.search), off the item row.

    Written only when the text is written: by a trigger on insert and on a change of the
    instruction, input or output, and, for imports, by a follow-up after the import commits
    (services.search). A status change leaves this table and its GIN index untouched.
    PostgreSQL only: on SQLite search scans the items and this table stays empty.
    """

    # No foreign key in the database: checking one locks the item row of every key row
    # written, which would write to each page of an import's items again. Items are deleted
    # through Django (rollback), which deletes their keys; ids are never reused, so keys
    # left by a raw DELETE match no item.
    item = models.OneToOneField(
        Item,
        primary_key=True,
        on_delete=models.CASCADE,
        db_constraint=False,
        related_name="search_text",
        verbose_name=pgettext_lazy("model field", "item"),
    )
    keys = SearchKeysField(
        verbose_name=pgettext_lazy("model field", "keys")
    )  # int4[] under a GIN index (migration 0007)

    def __str__(self) -> str:
        return f"search keys of item {self.item_id}"


class RevisionField(models.TextChoices):
    INSTRUCTION = "instruction"
    INPUT = "input"
    OUTPUT = "output"
    SOURCE = "source"
    CATEGORIZATION = "categorization"
    STATUS = "status"
    IFD = "ifd"


class ItemRevision(models.Model):
    """One changed field of one item: who, when, from what to what."""

    Field = RevisionField

    item = models.ForeignKey(
        Item,
        on_delete=models.CASCADE,
        related_name="revisions",
        verbose_name=pgettext_lazy("model field", "item"),
    )
    version = models.PositiveIntegerField(
        help_text="the item's version after the change",
        verbose_name=pgettext_lazy("model field", "version"),
    )
    field = models.CharField(
        max_length=16,
        choices=RevisionField.choices,
        verbose_name=pgettext_lazy("model field", "field"),
    )
    old_value = models.TextField(
        blank=True, default="", verbose_name=pgettext_lazy("model field", "old value")
    )
    new_value = models.TextField(
        blank=True, default="", verbose_name=pgettext_lazy("model field", "new value")
    )
    reason = models.TextField(
        blank=True, default="", verbose_name=pgettext_lazy("model field", "reason")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=pgettext_lazy("model field", "user"),
    )
    job = models.ForeignKey(
        "Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=pgettext_lazy("model field", "job"),
    )
    created_at = models.DateTimeField(
        auto_now_add=True, verbose_name=pgettext_lazy("model field", "created at")
    )

    class Meta:
        verbose_name = pgettext_lazy("model", "item revision")
        verbose_name_plural = pgettext_lazy("model", "item revisions")
        ordering = ["item_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=in_choices("field", RevisionField), name="revision_field_valid"
            ),
        ]
        indexes = [models.Index(fields=["item", "created_at"], name="revision_item_time")]

    def __str__(self) -> str:
        return f"item {self.item_id} v{self.version}: {self.field}"
