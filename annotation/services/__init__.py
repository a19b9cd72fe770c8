"""Everything that writes. Views, commands and tasks call these, nothing else writes models."""

from .derived import item_apply_translation, item_create_evolved
from .guidelines import guideline_update
from .imports import (
    ImportFileRejected,
    ImportProgress,
    ImportReport,
    UploadTooLarge,
    import_file,
    import_job_create,
    import_job_run,
    import_report_summary,
    import_rollback,
)
from .items import (
    item_accept,
    item_change_status,
    item_content_hash,
    item_edit,
    item_reject,
    items_change_status,
)
from .jobs import (
    job_advance,
    job_cancel,
    job_chunk_finish,
    job_chunk_lock,
    job_create,
    job_create_chunks,
    job_fail,
    job_finish_if_complete,
    job_is_cancelled,
    job_pending_chunks,
    job_publish_progress,
    job_start,
    job_succeed,
)
from .review import item_classify, item_skip, item_undo, review_claim
from .users import user_create

__all__ = [
    "ImportFileRejected",
    "ImportProgress",
    "ImportReport",
    "UploadTooLarge",
    "guideline_update",
    "import_file",
    "import_job_create",
    "import_job_run",
    "import_report_summary",
    "import_rollback",
    "item_accept",
    "item_apply_translation",
    "item_change_status",
    "item_classify",
    "item_content_hash",
    "item_create_evolved",
    "item_edit",
    "item_reject",
    "item_skip",
    "item_undo",
    "items_change_status",
    "job_advance",
    "job_cancel",
    "job_chunk_finish",
    "job_chunk_lock",
    "job_create",
    "job_create_chunks",
    "job_fail",
    "job_finish_if_complete",
    "job_is_cancelled",
    "job_pending_chunks",
    "job_publish_progress",
    "job_start",
    "job_succeed",
    "review_claim",
    "user_create",
]
