"""What translate and evolve jobs share: the configured generator, chunk bookkeeping, reports.

A generation chunk runs its model outside any transaction and writes its results in one
transaction that also marks the chunk done, so a redelivered chunk writes nothing twice.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import F, Max
from django.utils.translation import gettext as _

from annotation.models import Job, JobChunk
from annotation.services import job_fail, job_start

from .errors import PipelineConfigError

if TYPE_CHECKING:  # torch loads only where a model runs: workers, not every manage.py command
    from scoring.generation import Generator

MODEL_SETTINGS = {"translate": "VAD_TRANSLATE_MODEL", "evolve": "VAD_EVOLVE_MODEL"}


def configured_generation_model(*, model: str | None, purpose: str) -> str:
    """The model a job will use; without one, an error naming the setting to set."""
    setting = MODEL_SETTINGS[purpose]
    model = model or getattr(settings, setting)
    if not model:
        # In the page's language, as the scoring error is (the panel and the flagged page show it).
        if purpose == "translate":
            message = _(
                "no translation model: set %(setting)s (a local model directory or name, or the "
                "model's name on the server at VAD_LLM_BASE_URL) or name one"
            )
        else:
            message = _(
                "no evolution model: set %(setting)s (a local model directory or name, or the "
                "model's name on the server at VAD_LLM_BASE_URL) or name one"
            )
        raise PipelineConfigError(message % {"setting": setting})
    if purpose == "evolve" and _is_local_seq2seq(model):
        raise PipelineConfigError(
            f"{setting}={model!r} is a sequence-to-sequence (translation) model; evolution "
            f"needs a chat model that follows instructions. Set {setting} to a causal chat model."
        )
    return model


def _is_local_seq2seq(model: str) -> bool:
    """A local model folder whose config says encoder-decoder (read without loading it)."""
    config = Path(model) / "config.json"
    try:
        return bool(json.loads(config.read_text("utf-8")).get("is_encoder_decoder"))
    except (OSError, ValueError, AttributeError):
        return False


def generator_for(*, model: str, purpose: str) -> "Generator":
    """The process-wide generator for a model (loaded once per worker); a configuration the
    backend refuses (e.g. a seq2seq model for evolution) becomes a PipelineConfigError."""
    from scoring.generation import GeneratorConfigError, get_generator

    try:
        return get_generator(
            model,
            purpose=purpose,
            setting=MODEL_SETTINGS[purpose],
            device=settings.VAD_DEVICE,
            base_url=settings.VAD_LLM_BASE_URL or None,
            api_key=settings.VAD_LLM_API_KEY or None,
            concurrency=settings.VAD_LLM_CONCURRENCY,
            timeout=settings.VAD_LLM_TIMEOUT,
            max_retries=settings.VAD_LLM_MAX_RETRIES,
            batch_size=settings.VAD_GENERATION_BATCH_SIZE,
        )
    except GeneratorConfigError as exc:
        raise PipelineConfigError(str(exc)) from exc


def chunk_begin(*, job_id: int, chunk_index: int) -> JobChunk | None:
    """The chunk to work on, counted as one more attempt; None when it is done or its job is
    over (finished or cancelled)."""
    chunk = JobChunk.objects.select_related("job").get(job_id=job_id, index=chunk_index)
    if chunk.done or chunk.job.is_finished:
        return None
    JobChunk.objects.filter(pk=chunk.pk).update(attempts=F("attempts") + 1)
    job_start(job_id=job_id)
    chunk.job.refresh_from_db()
    return chunk


def chunk_setting_aside(run, count: int) -> tuple[dict, dict[int, str]]:
    """scoring.generation.run_setting_aside for one step of a chunk: of its `count` requests,
    one in ten (at least one) may fail on their own before the whole chunk counts as failed."""
    from scoring.generation import run_setting_aside

    return run_setting_aside(run, count, most=max(1, count // 10))


def chunk_fail(*, job_id: int, chunk_index: int, exc: BaseException) -> None:
    job_fail(job_id=job_id, error=f"chunk {chunk_index}: {type(exc).__name__}: {exc}")


def job_chunks_add(*, job: Job, item_ids: list[int], chunk_size: int) -> list[int]:
    """Append chunks to a job (after its last one) and add their items to its total; the
    new chunks' indexes. Call inside a transaction that holds the job row."""
    last = JobChunk.objects.filter(job=job).aggregate(n=Max("index"))["n"]
    first = 0 if last is None else last + 1
    chunks = JobChunk.objects.bulk_create(
        JobChunk(job=job, index=first + n, item_ids=item_ids[start : start + chunk_size])
        for n, start in enumerate(range(0, len(item_ids), chunk_size))
    )
    Job.objects.filter(pk=job.pk).update(total=F("total") + len(item_ids))
    return [c.index for c in chunks]


def job_report_add(*, job_id: int, counts: dict[str, int]) -> None:
    """Add a chunk's counts to its job's report; part of the chunk's final transaction."""
    job = Job.objects.select_for_update().get(pk=job_id)
    report = dict(job.report)
    for key, value in counts.items():
        if value:
            report[key] = report.get(key, 0) + value
    Job.objects.filter(pk=job_id).update(report=report)
