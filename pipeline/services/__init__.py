"""Model work as jobs: every pipeline write goes through these (SPEC §4, §5)."""

from .errors import PipelineConfigError
from .evolve import evolve_job_resume, evolve_job_send, evolve_job_start, reanswer_item_start
from .evolve_chunk import evolve_chunk_run
from .score import (
    ScoreParams,
    score_chunk_run,
    score_job_resume,
    score_job_send,
    score_job_start,
    scorer_for,
)
from .select import DROP_NOT_HELPFUL, filter_job_send, filter_job_start, filter_run
from .translate import (
    retranslate_item_start,
    translate_chunk_run,
    translate_job_resume,
    translate_job_send,
    translate_job_start,
)

__all__ = [
    "DROP_NOT_HELPFUL",
    "PipelineConfigError",
    "ScoreParams",
    "evolve_chunk_run",
    "evolve_job_resume",
    "evolve_job_send",
    "evolve_job_start",
    "filter_job_send",
    "filter_job_start",
    "filter_run",
    "reanswer_item_start",
    "retranslate_item_start",
    "score_chunk_run",
    "score_job_resume",
    "score_job_send",
    "score_job_start",
    "scorer_for",
    "translate_chunk_run",
    "translate_job_resume",
    "translate_job_send",
    "translate_job_start",
]
