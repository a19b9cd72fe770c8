"""The Django side of scoring: score jobs in chunks, then IFD selection (SPEC §4, §5).

The numeric work is in scoring.ifd / scoring.backends; this module only reads items, hands
texts to a scorer and writes the results, one chunk per transaction.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from annotation.models import Job
from annotation.services import (
    ScoreRecord,
    items_record_scores,
    job_chunk_begin,
    job_chunk_finish,
    job_chunk_lock,
    job_create,
    job_create_chunks,
    job_fail,
    job_finish_if_complete,
    job_heartbeats,
    job_pending_chunks,
    job_send_on_commit,
    job_succeed,
)

from ..selectors import items_to_score
from .errors import PipelineConfigError
from .resume import pipeline_job_resume

if TYPE_CHECKING:  # torch loads only where a model runs: workers, not every manage.py command
    from scoring.backends import IFDScorer
    from scoring.ifd import IFDResult


@dataclass(frozen=True)
class ScoreParams:
    model: str
    rescore: bool
    chunk_size: int
    batch_size: int
    max_answer_tokens: int

    @classmethod
    def from_job(cls, job: Job) -> "ScoreParams":
        return cls(**{k: job.params[k] for k in cls.__dataclass_fields__})


def _configured_model(model: str | None) -> str:
    model = model or settings.VAD_IFD_MODEL
    if not model:
        raise PipelineConfigError(
            _("no scoring model: set VAD_IFD_MODEL or name one (a local directory or a model name)")
        )
    return model


def score_job_start(
    *,
    user=None,
    model: str | None = None,
    rescore: bool = False,
    chunk_size: int | None = None,
    batch_size: int | None = None,
    max_answer_tokens: int | None = None,
) -> Job:
    """Create a score job over every item that needs a score and queue its chunks."""
    params = ScoreParams(
        model=_configured_model(model),
        rescore=rescore,
        chunk_size=chunk_size or settings.VAD_SCORE_CHUNK_SIZE,
        batch_size=batch_size or settings.VAD_SCORE_BATCH_SIZE,
        max_answer_tokens=max_answer_tokens or settings.VAD_MAX_ANSWER_TOKENS,
    )
    if params.chunk_size < 1 or params.batch_size < 1 or params.max_answer_tokens < 1:
        raise PipelineConfigError(_("chunk size, batch size and max answer tokens must be >= 1"))
    with transaction.atomic():
        item_ids = list(
            items_to_score(model=params.model, rescore=rescore)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        job = job_create(kind=Job.Kind.SCORE, params=params.__dict__, user=user)
        job_create_chunks(job=job, item_ids=item_ids, chunk_size=params.chunk_size)
        if not item_ids:
            job_succeed(job_id=job.pk, report={"scored": 0})
        else:
            job_send_on_commit(job_id=job.pk, send=lambda: score_job_send(job.pk))
    job.refresh_from_db()
    return job


def score_job_resume(*, job_id: int, user=None) -> Job:
    return pipeline_job_resume(job_id=job_id, kind=Job.Kind.SCORE, user=user)


def score_job_send(job_id: int) -> None:
    """Queue a task for each unfinished chunk (safe twice: a done chunk is skipped)."""
    from ..tasks import score_chunk  # tasks import services: avoid the cycle at import time

    for index in job_pending_chunks(job_id=job_id):
        score_chunk.delay(job_id=job_id, chunk_index=index)


def scorer_for(params: ScoreParams) -> "IFDScorer":
    """The process-wide scorer: the model is loaded once per worker and reused."""
    from scoring.backends import get_scorer

    return get_scorer(
        params.model,
        device=settings.VAD_DEVICE,
        base_url=settings.VAD_LLM_BASE_URL or None,
        api_key=settings.VAD_LLM_API_KEY or None,
        batch_size=params.batch_size,
        max_answer_tokens=params.max_answer_tokens,
    )


def score_chunk_run(*, job_id: int, chunk_index: int) -> int:
    """Score one chunk and write its results; returns how many items got a score.

    Idempotent: a chunk that is done, or whose items were scored meanwhile, writes nothing.
    The model runs outside any transaction so no row is locked during GPU work.
    """
    chunk = job_chunk_begin(job_id=job_id, index=chunk_index)
    if chunk is None:
        return 0
    params = ScoreParams.from_job(chunk.job)
    items = list(
        items_to_score(model=params.model, rescore=params.rescore)
        .filter(pk__in=chunk.item_ids)
        .only("pk", "instruction", "input", "output")
        .order_by("pk")
    )
    from scoring.backends import ScoringInput

    try:
        with job_heartbeats(job_id=job_id):
            results = scorer_for(params).score(
                [ScoringInput(i.instruction, i.input, i.output) for i in items]
            )
    except Exception as exc:
        job_fail(job_id=job_id, error=f"chunk {chunk_index}: {type(exc).__name__}: {exc}")
        raise
    scored = _record_scores(
        job=chunk.job,
        chunk_index=chunk_index,
        params=params,
        results={item.pk: result for item, result in zip(items, results, strict=True)},
    )
    job_finish_if_complete(job_id=job_id)
    return scored


def _record_scores(
    *, job: Job, chunk_index: int, params: ScoreParams, results: "dict[int, IFDResult]"
) -> int:
    """Write a chunk's scores and mark the chunk done, in one transaction."""
    records = {
        item_id: ScoreRecord(
            ifd=result.ifd,
            ifd_ppl=result.ifd_ppl,
            details={
                "max_answer_tokens": params.max_answer_tokens,
                "answer_tokens": result.answer_tokens,
                "answer_cut_tokens": result.answer_cut_tokens,
                "prompt_cut_tokens": result.prompt_cut_tokens,
                "truncated": result.truncated,
                "loss_cond": result.loss_cond,
                "loss_uncond": result.loss_uncond,
            },
        )
        for item_id, result in results.items()
    }
    with transaction.atomic():
        chunk = job_chunk_lock(job_id=job.pk, index=chunk_index)
        if chunk is None:
            return 0
        scored = items_record_scores(
            results=records,
            model=params.model,
            job=job,
            # Re-read under lock: an admin may have moved an item on while the model ran.
            among=items_to_score(model=params.model, rescore=params.rescore),
        )
        job_chunk_finish(chunk=chunk)
    return scored
