"""Imports (SPEC §3): a dataset file becomes items in one transaction, or nothing does.

The modules, in the order an import goes through them:
- request: ImportRequest, the file and the options of one import, given once;
- run: import_file and the run loop (parse in a thread, deduplicate, write, report progress);
- lookups: duplicates and cancellation, looked up on a second connection;
- copy_writer: the rows go through COPY (one for the import, or one per batch);
- report: ImportReport, the counts and errors people see, and ImportProgress;
- uploads: uploaded files, kept until their import job has finished;
- jobs: import jobs (create, run); rollback: undoing an import, as a job.
"""

from .jobs import import_job_create, import_job_run
from .report import (
    ImportFileRejected,
    ImportProgress,
    ImportReport,
    ProgressCallback,
    import_report_summary,
)
from .request import ImportRequest
from .rollback import import_rollback, import_rollback_run, import_rollback_start
from .run import import_file
from .uploads import UploadTooLarge

__all__ = [
    "ImportFileRejected",
    "ImportProgress",
    "ImportReport",
    "ImportRequest",
    "ProgressCallback",
    "UploadTooLarge",
    "import_file",
    "import_job_create",
    "import_job_run",
    "import_report_summary",
    "import_rollback",
    "import_rollback_run",
    "import_rollback_start",
]
