"""The review workspace: decisions (for undo and progress), skips, saved filters, guidelines."""

from django.conf import settings
from django.db import models

from .items import Item, Status


class ReviewDecision(models.Model):
    """An accept or reject, with what it replaced, so that its reviewer can undo it (SPEC §2).

    Also what the reviewer's progress counts (today, this week).
    """

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="review_decisions")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_decisions"
    )
    status = models.CharField(max_length=24, choices=Status.choices)
    version = models.PositiveIntegerField(help_text="the item's version after the decision")
    previous_status = models.CharField(max_length=24, choices=Status.choices)
    previous_reason = models.TextField(blank=True, default="")
    previous_reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    previous_reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["reviewer", "created_at"], name="decision_reviewer_time"),
            models.Index(fields=["item", "reviewer"], name="decision_item_reviewer"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} {self.status} item {self.item_id}"


class ReviewSkip(models.Model):
    """An item a reviewer skipped: it goes to the back of that reviewer's queue."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="review_skips")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_skips"
    )
    skipped_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["reviewer", "item"], name="review_skip_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.reviewer_id} skipped item {self.item_id}"


class SavedFilter(models.Model):
    """A named review-queue filter (query parameters, e.g. {"source": "translated"}).

    Without an owner it is shared with every reviewer.
    """

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="saved_filters",
    )
    params = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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

    language = models.CharField(max_length=16, unique=True)
    body = models.TextField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["language"]

    def __str__(self) -> str:
        return f"guidelines ({self.language})"
