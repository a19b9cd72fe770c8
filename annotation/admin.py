"""The Django admin: a window on the data, not a way around the services.

Items, revisions, jobs and their chunks are shown read-only: an edit here would change an
item with no new content hash, no version bump and no revision (two admins saving one item
would silently lose an edit), or set a job's status behind its workers' back. What the admin
may do to them is an action, and each action calls the service that owns the rule.
"""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .errors import JobNotCancellable, JobNotResumable, QueueUnavailable
from .lifecycle import InvalidTransition
from .models import ExportLog, Item, ItemRevision, Job, JobChunk, SavedFilter, Status
from .services import items_change_status, job_cancel, job_resume

admin.site.site_header = _("VAD Review administration")
admin.site.site_title = _("VAD Review administration")


class ReadOnlyAdmin(admin.ModelAdmin):
    """View only: no add, change or delete form; actions that call services may be added."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ItemRevisionInline(admin.TabularInline):
    model = ItemRevision
    extra = 0
    can_delete = False
    readonly_fields = ("version", "field", "old_value", "new_value", "reason", "user", "job")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Item)
class ItemAdmin(ReadOnlyAdmin):
    list_display = ("id", "short_instruction", "source", "status", "categorization", "ifd")
    list_filter = ("status", "source", "categorization")
    search_fields = ("instruction", "output", "source_key")
    raw_id_fields = ("parent", "import_job", "reviewer", "claimed_by")
    inlines = [ItemRevisionInline]
    list_per_page = 50
    show_full_result_count = False
    actions = ["send_to_review"]

    @admin.display(description=_("instruction"))
    def short_instruction(self, obj: Item) -> str:
        return obj.instruction[:60]

    @admin.action(description=_("Send the selected items to review"), permissions=["view"])
    def send_to_review(self, request: HttpRequest, queryset: QuerySet[Item]) -> None:
        try:
            moved = items_change_status(
                item_ids=queryset.order_by("pk").values_list("pk", flat=True),
                status=Status.IN_REVIEW,
                user=request.user,
                reason="sent to review from the admin",
            )
        except InvalidTransition as error:
            self.message_user(
                request,
                _("Nothing was sent to review: %(error)s") % {"error": error},
                messages.ERROR,
            )
            return
        self.message_user(
            request,
            ngettext("%(n)d item sent to review.", "%(n)d items sent to review.", moved)
            % {"n": moved},
            messages.SUCCESS,
        )


@admin.register(ItemRevision)
class ItemRevisionAdmin(ReadOnlyAdmin):
    list_display = ("id", "item", "version", "field", "user", "created_at")
    list_filter = ("field",)
    raw_id_fields = ("item", "user", "job")


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "status", "done", "total", "created_by", "created_at")
    list_filter = ("kind", "status")
    actions = ["cancel_jobs", "resume_jobs"]

    def _each(self, request, queryset, service, refusals, done_message) -> None:
        done = 0
        for job_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                service(job_id=job_id, user=request.user)
            except refusals as error:
                self.message_user(request, str(error), messages.WARNING)
            else:
                done += 1
        if done:
            self.message_user(request, done_message(done), messages.SUCCESS)

    @admin.action(description=_("Cancel the selected jobs"), permissions=["view"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._each(
            request,
            queryset,
            job_cancel,
            (JobNotCancellable,),
            lambda n: ngettext("%(n)d job cancelled.", "%(n)d jobs cancelled.", n) % {"n": n},
        )

    @admin.action(description=_("Resume the selected jobs"), permissions=["view"])
    def resume_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._each(
            request,
            queryset,
            job_resume,
            (JobNotResumable, QueueUnavailable),
            lambda n: ngettext("%(n)d job resumed.", "%(n)d jobs resumed.", n) % {"n": n},
        )


@admin.register(ExportLog)
class ExportLogAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "format", "count", "completed", "created_at")


@admin.register(JobChunk)
class JobChunkAdmin(ReadOnlyAdmin):
    list_display = ("id", "job", "index", "done", "attempts", "finished_at")
    list_filter = ("done",)
    raw_id_fields = ("job",)


@admin.register(SavedFilter)
class SavedFilterAdmin(ReadOnlyAdmin):
    """Review-queue filters; one without an owner is shared with every reviewer."""

    list_display = ("name", "owner", "params", "created_at")
    raw_id_fields = ("owner",)
