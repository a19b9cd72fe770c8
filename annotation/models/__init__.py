"""The data of VAD Review, one module per concern: items, jobs, review."""

from .items import (
    REVIEWED_STATUSES,
    STATUSES_WITHOUT_OUTPUT,
    Categorization,
    Item,
    ItemRevision,
    ItemSearchText,
    RevisionField,
    Source,
    Status,
)
from .jobs import ExportLog, Job, JobChunk, JobKind, JobState
from .review import Guideline, ReviewDecision, ReviewSkip, SavedFilter

__all__ = [
    "REVIEWED_STATUSES",
    "STATUSES_WITHOUT_OUTPUT",
    "Categorization",
    "ExportLog",
    "Guideline",
    "Item",
    "ItemRevision",
    "ItemSearchText",
    "Job",
    "JobChunk",
    "JobKind",
    "JobState",
    "ReviewDecision",
    "ReviewSkip",
    "RevisionField",
    "SavedFilter",
    "Source",
    "Status",
]
