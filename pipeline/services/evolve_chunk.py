"""One chunk of an evolve job: evolve its parents, then answer and judge their children.

1. Each parent's missing children (one per chosen operation) are generated and created as
   `pending_evolution` items, each in its own small transaction (idempotent by source key);
   a generated text that duplicates an existing item is skipped and counted.
2. Every pending child of these parents in this round gets an answer and, with the
   no-information-gain rule on, the model's verdict (an unparseable one is asked once more,
   then the item is kept and flagged `judge_unparsed`). The answers, the rules' decisions and
   the chunk's done mark are written in one transaction.
3. A request the model refuses on its own (longer than its context, say) fails only its
   item: no child for that parent this time (counted), a child left `pending_evolution` and
   flagged `answer_failed` with the error in `origin.answer_error`, or a verdict counted as
   unparsed. More than one in ten such failures fail the chunk, as a server that is down does.
"""

from dataclasses import dataclass

from django.db import transaction

from annotation.errors import DuplicateContent
from annotation.models import Item, Status
from annotation.services import (
    NotRedoable,
    item_apply_answer,
    item_create_evolved,
    item_set_flags,
    job_chunk_finish,
    job_chunk_lock,
    job_finish_if_complete,
    job_is_cancelled,
)

from .evolve import EvolveParams, evolve_plan_next
from .generate import (
    chunk_begin,
    chunk_fail,
    chunk_setting_aside,
    generator_for,
    job_report_add,
)


@dataclass(frozen=True)
class AnswerFailed:
    """In place of an answer: the model refused this child's request (`error` says why)."""

    error: str


def evolve_chunk_run(*, job_id: int, chunk_index: int) -> int:
    """Run one chunk; returns how many children got an answer. Idempotent."""
    chunk = chunk_begin(job_id=job_id, chunk_index=chunk_index)
    if chunk is None:
        return 0
    params = EvolveParams.from_job(chunk.job)
    round = params.chunk_rounds[str(chunk_index)]
    counts: dict[str, int] = {}
    try:
        generator = generator_for(model=params.model, purpose="evolve")
        if params.reanswer:
            children = list(Item.objects.filter(pk__in=chunk.item_ids))
        else:
            _evolve(generator, params=params, job=chunk.job, round=round,
                    parent_ids=chunk.item_ids, counts=counts)  # fmt: skip
            children = list(
                Item.objects.filter(
                    parent_id__in=chunk.item_ids,
                    status=Status.PENDING_EVOLUTION,
                    origin__round=round,
                ).select_related("parent")
            )
        if job_is_cancelled(job_id=job_id):
            return 0
        answers = _answers(generator, params=params, children=children)
        verdicts = _verdicts(generator, params=params, children=children, counts=counts)
    except Exception as exc:
        chunk_fail(job_id=job_id, chunk_index=chunk_index, exc=exc)
        raise
    answered = _write(
        job_id=job_id,
        chunk_index=chunk_index,
        params=params,
        children=children,
        answers=answers,
        verdicts=verdicts,
        counts=counts,
    )
    if params.reanswer:
        job_finish_if_complete(job_id=job_id)
    else:
        evolve_plan_next(job_id=job_id, after_round=round)
    return answered


def _evolve(generator, *, params: EvolveParams, job, round: int, parent_ids, counts) -> None:
    from scoring.evolution import (
        EVOLVE_PROMPT_NAME,
        choose_ops,
        clean_generated,
        evolve_messages,
    )
    from scoring.generation import GenerationRequest

    parents = list(Item.objects.filter(pk__in=parent_ids).order_by("pk"))
    todo = [
        (parent, op)
        for parent in parents
        for op in choose_ops(
            parent_id=parent.pk, round=round, ops=params.ops, all_ops=params.all_ops
        )
        if not Item.objects.filter(source_key=f"evolve:{parent.pk}:{op}:{round}").exists()
    ]
    if not todo:
        return
    requests = [
        GenerationRequest(
            evolve_messages(
                op=op,
                instruction=parent.instruction,
                reference_output=parent.origin.get("reference_output") or "",
                domain=parent.origin.get("domain_zh") or parent.origin.get("domain") or "",
            ),
            max_new_tokens=params.max_new_tokens,
        )
        for parent, op in todo
    ]
    replies, failed = _generate(generator, requests, seed=params.seed)
    if failed:  # no child for these: a later round or job tries the parent again
        counts["evolve_failed"] = counts.get("evolve_failed", 0) + len(failed)
    for (parent, op), reply in zip(todo, replies, strict=True):
        if reply is None:
            continue
        instruction = clean_generated(reply)
        if not instruction:
            counts["empty_generations"] = counts.get("empty_generations", 0) + 1
            continue
        try:
            item_create_evolved(
                parent_id=parent.pk,
                operation=op,
                round=round,
                instruction=instruction,
                generation={"model": params.model, "prompt": EVOLVE_PROMPT_NAME},
                job=job,
            )
        except DuplicateContent:
            counts["duplicates_skipped"] = counts.get("duplicates_skipped", 0) + 1


def _generate(generator, requests: list, *, seed: int) -> tuple[list[str | None], dict]:
    """One reply per request, None where the model refused that request alone (its error in
    the dict, by position); more such failures than a chunk allows raise, as others do."""
    replies, failed = chunk_setting_aside(
        lambda positions: generator.generate([requests[n] for n in positions], seed=seed),
        len(requests),
    )
    return [replies.get(n) for n in range(len(requests))], failed


def _answers(generator, *, params: EvolveParams, children: list[Item]) -> list:
    """Each child's answer: text, or AnswerFailed where the model refused its request."""
    from scoring.evolution import answer_messages, clean_generated
    from scoring.generation import GenerationRequest

    if not children:
        return []
    replies, failed = _generate(
        generator,
        [
            GenerationRequest(
                answer_messages(c.instruction, c.input), max_new_tokens=params.max_new_tokens
            )
            for c in children
        ],
        seed=params.seed,
    )
    return [
        AnswerFailed(failed[n]) if reply is None else clean_generated(reply)
        for n, reply in enumerate(replies)
    ]


def _verdicts(generator, *, params: EvolveParams, children: list[Item], counts) -> list:
    """parse_verdict of the judge for each child (None: unparsed twice, or no judge)."""
    from scoring.evolution import RULE_NO_GAIN, judge_messages, parse_verdict
    from scoring.generation import GenerationRequest

    verdicts: list = [None] * len(children)
    if params.reanswer or RULE_NO_GAIN not in params.rules:
        return verdicts
    todo = list(range(len(children)))
    for attempt in range(2):  # an unparseable verdict is asked for once more
        if not todo:
            break
        replies, _ = _generate(
            generator,
            [
                GenerationRequest(
                    judge_messages(
                        parent=children[n].parent.instruction, child=children[n].instruction
                    ),
                    max_new_tokens=16,
                )
                for n in todo
            ],
            seed=params.seed + attempt,
        )
        for n, reply in zip(todo, replies, strict=True):
            # A refused request counts as a verdict that did not parse.
            verdicts[n] = None if reply is None else parse_verdict(reply)
        todo = [n for n in todo if verdicts[n] is None]
        if attempt == 0 and todo:
            counts["judge_retried"] = counts.get("judge_retried", 0) + len(todo)
    return verdicts


@transaction.atomic
def _write(*, job_id, chunk_index, params, children, answers, verdicts, counts) -> int:
    from scoring.evolution import ALL_RULES, EVOLVE_PROMPT_NAME, FLAG_JUDGE_UNPARSED, eliminate

    chunk = job_chunk_lock(job_id=job_id, index=chunk_index)
    if chunk is None:
        return 0
    job = chunk.job
    answered = 0
    rule_flags = [f"answer_{rule}" for rule in ALL_RULES]
    for child, answer, verdict in zip(children, answers, verdicts, strict=True):
        current = Item.objects.select_for_update().get(pk=child.pk)
        if not params.reanswer and current.status != Status.PENDING_EVOLUTION:
            continue  # answered meanwhile
        if isinstance(answer, AnswerFailed):  # left as it was, flagged, the error kept
            item_set_flags(
                item_id=child.pk,
                add=["answer_failed"],
                origin_updates={"answer_error": {"model": params.model, "error": answer.error}},
            )
            counts["answer_failed"] = counts.get("answer_failed", 0) + 1
            continue
        if not answer.strip():
            item_set_flags(item_id=child.pk, add=["answer_empty"])
            counts["empty_generations"] = counts.get("empty_generations", 0) + 1
            continue
        judged = verdict if not params.reanswer else True
        result = eliminate(
            instruction=child.instruction, answer=answer, verdict=judged, rules=params.rules
        )
        generation = {"model": params.model, "prompt": EVOLVE_PROMPT_NAME, "job_id": job_id}
        pending = current.status == Status.PENDING_EVOLUTION
        flags = list(result.flags)
        if not pending and result.rule:  # an answered item keeps its status: flag it instead
            flags.append(f"answer_{result.rule}")
        try:
            item_apply_answer(
                item_id=child.pk,
                output=answer,
                eliminated_by=result.rule if pending else None,
                flags=flags,
                # A new answer is not judged again: the judge's flag stays on a redo.
                drop_flags=[
                    *([] if params.reanswer else [FLAG_JUDGE_UNPARSED]),
                    "answer_empty",
                    "answer_failed",
                    *rule_flags,
                ],
                generation=generation,
                job=job,
            )
        except DuplicateContent:
            item_set_flags(item_id=child.pk, add=["answer_duplicate"])
            counts["duplicates_skipped"] = counts.get("duplicates_skipped", 0) + 1
            continue
        except NotRedoable:
            continue
        answered += 1
        key = "answered_again" if params.reanswer else "evolved"
        if result.rule and pending:
            key = f"eliminated_{result.rule}"
        counts[key] = counts.get(key, 0) + 1
        if result.flags:
            counts["judge_unparsed"] = counts.get("judge_unparsed", 0) + 1
    job_report_add(job_id=job_id, counts=counts)
    job_chunk_finish(chunk=chunk)
    return answered
