"""The review workspace: decisions (for undo and progress), skips, saved filters, guidelines."""

from django.conf import settings
from django.db import models
from django.utils.translation import pgettext_lazy

from .items import Item, Status


class ReviewDecision(models.Model):
    """An accept or reject, with what it replaced, so that its reviewer can undo it (SPEC §2).

    Also what the reviewer's progress counts (today, this week).
    """

    item = models.ForeignKey(
        Item,
        on_delete=models.CASCADE,
        related_name="review_decisions",
        verbose_name=pgettext_lazy("model field", "item"),
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="review_decisions",
        verbose_name=pgettext_lazy("model field", "reviewer"),
    )
    status = models.CharField(
        max_length=24, choices=Status.choices, verbose_name=pgettext_lazy("model field", "status")
    )
    version = models.PositiveIntegerField(
        help_text="the item's version after the decision",
        verbose_name=pgettext_lazy("model field", "version"),
    )
    previous_status = models.CharField(
        max_length=24,
        choices=Status.choices,
        verbose_name=pgettext_lazy("model field", "previous status"),
    )
    previous_reason = models.TextField(
        blank=True, default="", verbose_name=pgettext_lazy("model field", "previous reason")
    )
    previous_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=pgettext_lazy("model field", "previous reviewer"),
    )
    previous_reviewed_at = models.DateTimeField(
        null=True, blank=True, verbose_name=pgettext_lazy("model field", "previous reviewed at")
    )
    created_at = models.DateTimeField(
        auto_now_add=True, verbose_name=pgettext_lazy("model field", "created at")
    )
    undone_at = models.DateTimeField(
        null=True, blank=True, verbose_name=pgettext_lazy("model field", "undone at")
    )

    class Meta:
        verbose_name = pgettext_lazy("model", "review decision")
        verbose_name_plural = pgettext_lazy("model", "review decisions")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["reviewer", "created_at"], name="decision_reviewer_time"),
            models.Index(fields=["item", "reviewer"], name="decision_item_reviewer"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} {self.status} item {self.item_id}"


class ReviewSkip(models.Model):
    """An item a reviewer skipped: it goes to the back of that reviewer's queue."""

    item = models.ForeignKey(
        Item,
        on_delete=models.CASCADE,
        related_name="review_skips",
        verbose_name=pgettext_lazy("model field", "item"),
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="review_skips",
        verbose_name=pgettext_lazy("model field", "reviewer"),
    )
    skipped_at = models.DateTimeField(verbose_name=pgettext_lazy("model field", "skipped at"))

    class Meta:
        verbose_name = pgettext_lazy("model", "review skip")
        verbose_name_plural = pgettext_lazy("model", "review skips")
        constraints = [
            models.UniqueConstraint(fields=["reviewer", "item"], name="review_skip_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} skipped item {self.item_id}"


class SavedFilter(models.Model):
    """A named review-queue filter (query parameters, e.g. {"source": "translated"}).

    Without an owner it is shared with every reviewer.
    """

    name = models.CharField(max_length=100, verbose_name=pgettext_lazy("model field", "name"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="saved_filters",
        verbose_name=pgettext_lazy("model field", "owner"),
    )
    params = models.JSONField(
        default=dict, blank=True, verbose_name=pgettext_lazy("model field", "params")
    )
    created_at = models.DateTimeField(
        auto_now_add=True, verbose_name=pgettext_lazy("model field", "created at")
    )

    class Meta:
        verbose_name = pgettext_lazy("model", "saved filter")
        verbose_name_plural = pgettext_lazy("model", "saved filters")
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_filter_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Guideline(models.Model):
    """The annotation guidelines in one language (SPEC §7): plain text that admins edit.

    Lines starting with "# " are headings and lines starting with "- " are list entries;
    the page renders them as such, always escaped (annotation.guidelines.guideline_blocks).
    """

    language = models.CharField(
        max_length=16, unique=True, verbose_name=pgettext_lazy("model field", "language")
    )
    body = models.TextField(verbose_name=pgettext_lazy("model field", "body"))
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=pgettext_lazy("model field", "updated by"),
    )
    updated_at = models.DateTimeField(
        auto_now=True, verbose_name=pgettext_lazy("model field", "updated at")
    )

    class Meta:
        verbose_name = pgettext_lazy("model", "guideline")
        verbose_name_plural = pgettext_lazy("model", "guidelines")
        ordering = ["language"]

    def __str__(self) -> str:
        return f"guidelines ({self.language})"
