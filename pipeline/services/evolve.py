"""Evolve jobs: Evol-Instruct rounds grown from CValues seeds (SPEC §2, §5).

Seeds are round 0. Round r evolves round r-1's survivors (seeds for r = 1): each parent gets
the operations `choose_ops` picks from (parent, round), and each evolved instruction becomes
a `pending_evolution` child with source key `evolve:<parent id>:<op>:<round>` until its
answer is generated; then the elimination rules make it a candidate or `filtered_out`.
A job plans one round at a time (chunks of parents); when the round's last chunk is done
the next round is planned, up to `rounds`. A parent whose child for (op, round) exists is not
evolved again, so re-running with the same number of rounds adds nothing.
"""

from dataclasses import asdict, dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from annotation.models import Item, Job, Source, Status
from annotation.services import (
    REDOABLE_STATUSES,
    job_create,
    job_pending_chunks,
    job_send_on_commit,
    job_succeed,
)

from .errors import PipelineConfigError
from .generate import configured_generation_model, job_chunks_add
from .resume import pipeline_job_resume

MAX_ROUNDS = 10
# Items a next round grows from: answered and not removed.
SURVIVORS = (Status.CANDIDATE, Status.SCORED, Status.IN_REVIEW, Status.ACCEPTED)


@dataclass(frozen=True)
class EvolveParams:
    model: str
    rounds: int
    ops: list[str]
    all_ops: bool
    rules: list[str]
    chunk_size: int
    max_new_tokens: int
    seed_ids: list[int] | None = None
    reanswer: bool = False
    seed: int = 0
    # chunk index → the round it evolves (written as rounds are planned)
    chunk_rounds: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_job(cls, job: Job) -> "EvolveParams":
        return cls(**{k: job.params[k] for k in cls.__dataclass_fields__ if k in job.params})


def evolve_job_start(
    *,
    user=None,
    rounds: int,
    ops,
    all_ops: bool = False,
    model: str | None = None,
    rules=None,
    chunk_size: int | None = None,
    max_new_tokens: int | None = None,
    item_ids: list[int] | None = None,
) -> Job:
    """Plan the first round that has work and queue its chunks (queue gpu)."""
    from scoring.evolution import parse_ops, parse_rules

    if not 1 <= rounds <= MAX_ROUNDS:
        raise PipelineConfigError(_("rounds must be between 1 and %(max)d") % {"max": MAX_ROUNDS})
    try:
        ops = list(parse_ops(ops))
        rules = list(parse_rules(settings.VAD_EVOLVE_RULES if rules is None else rules))
    except ValueError as exc:
        raise PipelineConfigError(str(exc)) from exc
    params = EvolveParams(
        model=configured_generation_model(model=model, purpose="evolve"),
        rounds=rounds,
        ops=ops,
        all_ops=all_ops,
        rules=rules,
        chunk_size=chunk_size or settings.VAD_EVOLVE_CHUNK_SIZE,
        max_new_tokens=max_new_tokens or settings.VAD_GENERATION_MAX_NEW_TOKENS,
        seed_ids=sorted(item_ids) if item_ids is not None else None,
    )
    if params.chunk_size < 1 or params.max_new_tokens < 1:
        raise PipelineConfigError(_("chunk size and max new tokens must be >= 1"))
    with transaction.atomic():
        job = job_create(kind=Job.Kind.EVOLVE, params=asdict(params), user=user)
        evolve_plan_next(job_id=job.pk, after_round=0)
    job.refresh_from_db()
    return job


def reanswer_item_start(*, user, item_id: int, model: str | None = None) -> Job:
    """A small job that generates a new answer for one evolved item."""
    item = Item.objects.filter(pk=item_id).first()
    if (
        item is None
        or item.parent_id is None
        or item.status not in (Status.PENDING_EVOLUTION, *REDOABLE_STATUSES)
    ):
        raise PipelineConfigError(
            f"item {item_id} is not an evolved item that can be answered again: only evolved "
            f"items that are pending or not in review ({', '.join(REDOABLE_STATUSES)})"
        )
    params = EvolveParams(
        model=configured_generation_model(model=model, purpose="evolve"),
        rounds=item.origin.get("round", 1),
        ops=[item.origin.get("operation", "deepen")],
        all_ops=False,
        rules=list(settings.VAD_EVOLVE_RULES),
        chunk_size=1,
        max_new_tokens=settings.VAD_GENERATION_MAX_NEW_TOKENS,
        reanswer=True,
        chunk_rounds={"0": item.origin.get("round", 1)},
    )
    with transaction.atomic():
        job = job_create(kind=Job.Kind.EVOLVE, params=asdict(params), user=user)
        job.params = {**job.params, "seed": job.pk}  # a new seed: a new answer
        job.save(update_fields=["params"])
        job_chunks_add(job=job, item_ids=[item_id], chunk_size=1)
        job_send_on_commit(job_id=job.pk, send=lambda: evolve_job_send(job.pk))
    job.refresh_from_db()
    return job


def evolve_job_resume(*, job_id: int, user=None) -> Job:
    return pipeline_job_resume(job_id=job_id, kind=Job.Kind.EVOLVE, user=user)


def evolve_job_send(job_id: int) -> None:
    """Queue the job's unfinished chunks (task evolve_chunk, queue gpu)."""
    from ..tasks import evolve_chunk

    for index in job_pending_chunks(job_id=job_id):
        evolve_chunk.delay(job_id=job_id, chunk_index=index)


def parents_of_round(*, round: int, seed_ids: list[int] | None = None):
    """The items round `round` grows from: seeds, or round-1's survivors."""
    if round == 1:
        items = Item.objects.filter(status=Status.SEED)
        return items.filter(pk__in=seed_ids) if seed_ids is not None else items
    items = Item.objects.filter(
        source=Source.SYNTHETIC,
        parent__isnull=False,
        status__in=SURVIVORS,
        origin__round=round - 1,
    )
    return items.filter(origin__seed_id__in=seed_ids) if seed_ids is not None else items


def parents_with_work(*, params: EvolveParams, round: int) -> list[int]:
    """Parents missing a child for one of their operations, or with a child still pending."""
    from scoring.evolution import choose_ops

    parents = list(
        parents_of_round(round=round, seed_ids=params.seed_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    keys = {
        f"evolve:{p}:{op}:{round}": p
        for p in parents
        for op in choose_ops(parent_id=p, round=round, ops=params.ops, all_ops=params.all_ops)
    }
    settled = set(
        Item.objects.filter(source_key__in=list(keys))
        .exclude(status=Status.PENDING_EVOLUTION)
        .values_list("source_key", flat=True)
    )
    need = {p for key, p in keys.items() if key not in settled}
    return [p for p in parents if p in need]


def evolve_plan_next(*, job_id: int, after_round: int) -> bool:
    """Plan the first round after `after_round` that has work: add its chunks and queue them
    after commit. Succeeds the job when no round up to `rounds` has any. Runs once per round
    however many chunks finish together (the job row is locked and the planned rounds are
    recorded). True when a round was planned."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if job.is_finished:
            return False
        params = EvolveParams.from_job(job)
        planned = max(params.chunk_rounds.values(), default=0)
        if planned > after_round or job_pending_chunks(job_id=job_id):
            return False  # another chunk planned it already, or the round is not over
        for round in range(after_round + 1, params.rounds + 1):
            parents = parents_with_work(params=params, round=round)
            if not parents:
                continue
            indexes = job_chunks_add(job=job, item_ids=parents, chunk_size=params.chunk_size)
            rounds = {**params.chunk_rounds, **{str(i): round for i in indexes}}
            Job.objects.filter(pk=job_id).update(params={**job.params, "chunk_rounds": rounds})
            job_send_on_commit(job_id=job_id, send=lambda: evolve_job_send(job_id))
            return True
        job_succeed(job_id=job_id, report={"evolved": 0, **job.report})
        return False
