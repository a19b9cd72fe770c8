"""Everything that writes. Views, commands and tasks call these, nothing else writes models."""

from .items import (
    item_change_status,
    item_content_hash,
    item_edit,
    items_change_status,
)
from .jobs import (
    job_advance,
    job_cancel,
    job_create,
    job_fail,
    job_is_cancelled,
    job_publish_progress,
    job_start,
    job_succeed,
)
from .users import user_create

__all__ = [
    "item_change_status",
    "item_content_hash",
    "item_edit",
    "items_change_status",
    "job_advance",
    "job_cancel",
    "job_create",
    "job_fail",
    "job_is_cancelled",
    "job_publish_progress",
    "job_start",
    "job_succeed",
    "user_create",
]
