"""Translate jobs: `pending_translation` items → Simplified Chinese candidates (SPEC §2, §5).

Each chunk translates its items' English (instruction, input, output) in one batch outside
any transaction, then writes every item and marks the chunk done in one transaction. A
flagged translation still becomes a candidate (the flags tell the reviewer what to check);
an empty one leaves the item `pending_translation` with the flag `translation_empty`. A
translation identical to another item's text is not applied: the item is `filtered_out`.
An admin can have one translated item translated again (`retranslate_item_start`). When the
model refuses one item's request (longer than its context, say), that item stays as it was,
flagged `translation_failed` with the error in `origin.translation_error`, and the rest of
the chunk is translated (up to one item in ten; more fail the chunk, as a server that is down
does).
"""

from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import transaction

from annotation.errors import DuplicateContent
from annotation.models import Item, Job, Status
from annotation.services import (
    REDOABLE_STATUSES,
    item_apply_translation,
    item_change_status,
    item_set_flags,
    job_chunk_finish,
    job_chunk_lock,
    job_create,
    job_create_chunks,
    job_finish_if_complete,
    job_pending_chunks,
    job_send_on_commit,
    job_succeed,
)

from .errors import PipelineConfigError
from .generate import (
    chunk_begin,
    chunk_fail,
    chunk_setting_aside,
    configured_generation_model,
    generator_for,
    job_report_add,
)
from .resume import pipeline_job_resume

FIELDS = ("instruction", "input", "output")


@dataclass(frozen=True)
class TranslateParams:
    model: str
    chunk_size: int
    max_new_tokens: int
    retranslate: bool = False
    seed: int = 0

    @classmethod
    def from_job(cls, job: Job) -> "TranslateParams":
        return cls(**{k: job.params[k] for k in cls.__dataclass_fields__ if k in job.params})


def thresholds():
    from scoring.translation import TranslationThresholds

    return TranslationThresholds(
        min_length_ratio=settings.VAD_TRANSLATION_MIN_LENGTH_RATIO,
        max_length_ratio=settings.VAD_TRANSLATION_MAX_LENGTH_RATIO,
        max_repeats=settings.VAD_TRANSLATION_MAX_REPEATS,
        min_distinct_ngrams=settings.VAD_TRANSLATION_MIN_DISTINCT_NGRAMS,
        max_latin_words=settings.VAD_TRANSLATION_MAX_LATIN_WORDS,
    )


def items_to_translate(*, retranslate: bool = False):
    if retranslate:
        return Item.objects.filter(
            status__in=(Status.PENDING_TRANSLATION, *REDOABLE_STATUSES),
            origin__has_key="en_instruction",
        )
    return Item.objects.filter(status=Status.PENDING_TRANSLATION)


def translate_job_start(
    *,
    user=None,
    model: str | None = None,
    chunk_size: int | None = None,
    item_ids: list[int] | None = None,
    max_new_tokens: int | None = None,
    retranslate: bool = False,
) -> Job:
    """A job over every pending translation (or the given ones) in chunks on queue gpu."""
    params = TranslateParams(
        model=configured_generation_model(model=model, purpose="translate"),
        chunk_size=chunk_size or settings.VAD_TRANSLATE_CHUNK_SIZE,
        max_new_tokens=max_new_tokens or settings.VAD_GENERATION_MAX_NEW_TOKENS,
        retranslate=retranslate,
    )
    if params.chunk_size < 1 or params.max_new_tokens < 1:
        raise PipelineConfigError("chunk size and max new tokens must be >= 1")
    with transaction.atomic():
        items = items_to_translate(retranslate=retranslate)
        if item_ids is not None:
            items = items.filter(pk__in=item_ids)
        ids = list(items.order_by("pk").values_list("pk", flat=True))
        if retranslate and not ids:
            raise PipelineConfigError(
                "nothing to translate again: only translated items that are not in review "
                f"({', '.join(REDOABLE_STATUSES)}) or still pending"
            )
        job = job_create(kind=Job.Kind.TRANSLATE, params=asdict(params), user=user)
        if retranslate:  # a new seed, so a sampling model can answer differently
            job.params = {**job.params, "seed": job.pk}
            job.save(update_fields=["params"])
        job_create_chunks(job=job, item_ids=ids, chunk_size=params.chunk_size)
        if not ids:
            job_succeed(job_id=job.pk, report={"translated": 0})
        else:
            job_send_on_commit(job_id=job.pk, send=lambda: translate_job_send(job.pk))
    job.refresh_from_db()
    return job


def retranslate_item_start(*, user, item_id: int, model: str | None = None) -> Job:
    """A small job that translates one item again from the English kept in its origin."""
    return translate_job_start(user=user, model=model, item_ids=[item_id], retranslate=True)


def translate_job_resume(*, job_id: int, user=None) -> Job:
    return pipeline_job_resume(job_id=job_id, kind=Job.Kind.TRANSLATE, user=user)


def translate_job_send(job_id: int) -> None:
    """Queue the job's unfinished chunks (task translate_chunk, queue gpu)."""
    from ..tasks import translate_chunk

    for index in job_pending_chunks(job_id=job_id):
        translate_chunk.delay(job_id=job_id, chunk_index=index)


def _english(item: Item) -> dict[str, str]:
    if item.status == Status.PENDING_TRANSLATION:
        return {f: getattr(item, f) for f in FIELDS}
    origin = item.origin
    return {
        "instruction": origin["en_instruction"],
        "input": origin.get("en_input", ""),
        "output": origin.get("en_output", ""),
    }


def translate_chunk_run(*, job_id: int, chunk_index: int) -> int:
    """Translate one chunk; returns how many items got a translation. Idempotent."""
    chunk = chunk_begin(job_id=job_id, chunk_index=chunk_index)
    if chunk is None:
        return 0
    params = TranslateParams.from_job(chunk.job)
    items = list(
        items_to_translate(retranslate=params.retranslate)
        .filter(pk__in=chunk.item_ids)
        .order_by("pk")
    )
    from scoring.translation import translation_provenance

    try:
        generator = generator_for(model=params.model, purpose="translate")
        english = [_english(item) for item in items]
        chinese, failed = chunk_setting_aside(
            lambda positions: _translate(generator, [english[n] for n in positions], params),
            len(items),
        )
    except Exception as exc:
        chunk_fail(job_id=job_id, chunk_index=chunk_index, exc=exc)
        raise
    results = {items[n].pk: (english[n], texts) for n, texts in chinese.items()}
    provenance = {**translation_provenance(generator, model=params.model), "job_id": job_id}
    translated = _write(
        job_id=job_id,
        chunk_index=chunk_index,
        results=results,
        failed={items[n].pk: error for n, error in failed.items()},
        provenance=provenance,
        retranslate=params.retranslate,
    )
    job_finish_if_complete(job_id=job_id)
    return translated


def _translate(generator, english: list[dict[str, str]], params: TranslateParams) -> list[dict]:
    """The Chinese of each item's fields; a failure that blames one text blames its item."""
    from scoring.generation import blaming
    from scoring.translation import translate_texts

    width = len(FIELDS)
    texts = [e[f] for e in english for f in FIELDS]
    with blaming(lambda text: text // width):
        chinese = translate_texts(
            generator, texts, max_new_tokens=params.max_new_tokens, seed=params.seed
        )
    return [
        dict(zip(FIELDS, chinese[width * n : width * (n + 1)], strict=True))
        for n in range(len(english))
    ]


@transaction.atomic
def _write(
    *,
    job_id: int,
    chunk_index: int,
    results: dict,
    failed: dict[int, str],
    provenance: dict,
    retranslate: bool,
) -> int:
    from scoring.translation import FLAG_EMPTY, FLAG_FAILED, TRANSLATION_FLAGS, translation_flags

    chunk = job_chunk_lock(job_id=job_id, index=chunk_index)
    if chunk is None:
        return 0
    job = chunk.job
    # Re-read under lock: an item translated meanwhile (another job) is not translated twice.
    still = set(
        items_to_translate(retranslate=retranslate)
        .select_for_update()
        .filter(pk__in=[*results, *failed])
        .values_list("pk", flat=True)
    )
    limits = thresholds()
    counts = {"translated": 0, "flagged": 0, "empty": 0, "duplicates": 0, "failed": 0}
    for item_id, error in failed.items():
        if item_id not in still:
            continue
        # Left as it was (pending, or with its earlier translation), flagged, the error kept
        # beside it: a later job (or a redo) tries again, and success drops both.
        item_set_flags(
            item_id=item_id,
            add=[FLAG_FAILED],
            origin_updates={"translation_error": {**provenance, "error": error}},
        )
        counts["failed"] += 1
    for item_id, (english, chinese) in results.items():
        if item_id not in still:
            continue
        flags, checks = [], {}
        for field in FIELDS:
            field_flags, measures = translation_flags(
                english[field], chinese[field], thresholds=limits
            )
            flags += [f for f in field_flags if f not in flags]
            if measures:
                checks[field] = measures
        record = {**provenance, "checks": checks}
        if FLAG_EMPTY in flags:
            item_set_flags(
                item_id=item_id,
                add=[FLAG_EMPTY],
                drop=TRANSLATION_FLAGS,
                origin_updates={"translation": record},
            )
            counts["empty"] += 1
            continue
        try:
            item_apply_translation(
                item_id=item_id,
                **chinese,
                flags=flags,
                drop_flags=TRANSLATION_FLAGS,
                translation=record,
                job=job,
            )
        except DuplicateContent as exc:
            counts["duplicates"] += 1
            item = Item.objects.get(pk=item_id)
            if item.status == Status.PENDING_TRANSLATION:
                item_change_status(
                    item_id=item_id,
                    status=Status.FILTERED_OUT,
                    reason=f"translation duplicates item {exc.other_id}",
                    job=job,
                )
            continue
        counts["translated"] += 1
        counts["flagged"] += bool(flags)
    job_report_add(job_id=job_id, counts=counts)
    job_chunk_finish(chunk=chunk)
    return counts["translated"]
