from django.contrib import admin

from .models import ExportLog, Item, ItemRevision, Job, JobChunk, SavedFilter


class ItemRevisionInline(admin.TabularInline):
    model = ItemRevision
    extra = 0
    can_delete = False
    readonly_fields = ("version", "field", "old_value", "new_value", "reason", "user", "job")
    fields = readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("id", "short_instruction", "source", "status", "categorization", "ifd")
    list_filter = ("status", "source", "categorization")
    search_fields = ("instruction", "output", "source_key")
    readonly_fields = ("content_hash", "version", "created_at", "updated_at", "scored_at")
    raw_id_fields = ("parent", "import_job", "reviewer", "claimed_by")
    inlines = [ItemRevisionInline]
    list_per_page = 50
    show_full_result_count = False

    @admin.display(description="instruction")
    def short_instruction(self, obj: Item) -> str:
        return obj.instruction[:60]


@admin.register(ItemRevision)
class ItemRevisionAdmin(admin.ModelAdmin):
    list_display = ("id", "item", "version", "field", "user", "created_at")
    list_filter = ("field",)
    raw_id_fields = ("item", "user", "job")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "done", "total", "created_by", "created_at")
    list_filter = ("kind", "status")
    readonly_fields = ("created_at", "started_at", "finished_at", "updated_at")


@admin.register(ExportLog)
class ExportLogAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "format", "count", "completed", "created_at")


@admin.register(JobChunk)
class JobChunkAdmin(admin.ModelAdmin):
    list_display = ("id", "job", "index", "done", "attempts", "finished_at")
    list_filter = ("done",)
    raw_id_fields = ("job",)


@admin.register(SavedFilter)
class SavedFilterAdmin(admin.ModelAdmin):
    """Review-queue filters; one without an owner is shared with every reviewer."""

    list_display = ("name", "owner", "params", "created_at")
    raw_id_fields = ("owner",)
