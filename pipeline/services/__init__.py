"""Model work as jobs: every pipeline write goes through these (SPEC §4, §5)."""

from .errors import PipelineConfigError
from .score import (
    ScoreParams,
    score_chunk_run,
    score_job_resume,
    score_job_send,
    score_job_start,
    scorer_for,
)
from .select import DROP_NOT_HELPFUL, filter_job_send, filter_job_start, filter_run

__all__ = [
    "DROP_NOT_HELPFUL",
    "PipelineConfigError",
    "ScoreParams",
    "filter_job_send",
    "filter_job_start",
    "filter_run",
    "score_chunk_run",
    "score_job_resume",
    "score_job_send",
    "score_job_start",
    "scorer_for",
]
