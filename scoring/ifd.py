"""Instruction-Following Difficulty (IFD) scores, computed in batches (SPEC §4).

For a prompt ``p`` and an answer ``a``: ``loss_cond`` is the mean cross-entropy of the answer
tokens in ``start + P + A``, ``loss_uncond`` the same in ``start + A``;
``ifd = loss_cond / loss_uncond`` (Cherry LLM) and ``ifd_ppl = exp(loss_cond - loss_uncond)``
(Superfiltering).

Reference implementations (Cherry LLM) score one pair at a time, with two forward passes and
logits at every position. Here all 2n sequences are sorted by length and cut into
right-padded batches under a token budget, so conditioned and unconditioned sequences share
forward passes and little is spent on padding; the vocabulary projection is applied only at
the positions that predict an answer token. This module holds the public entry point,
``compute_ifd``, and how it spreads batches over devices and cores; the sequences and the
batch plan are in scoring.sequences, the model's losses in scoring.model_losses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from scoring.model_losses import BatchScorer, model_device, split_model
from scoring.sequences import (
    DEFAULT_MAX_ANSWER_TOKENS,
    PaddedBatch,
    SequenceRows,
    TokenizedPairs,
    build_rows,
    build_sequences,
    model_max_length,
    pad_rows,
    plan_batches,
    start_token_id,
    tokenize_pairs,
)

# The names other modules, the bench and the tests import from here (SPEC §4 names only
# compute_ifd; the rest are kept at this path for their callers).
__all__ = [
    "CPU_BATCHES_PER_WORKER",
    "CPU_TOKEN_BUDGET",
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_ANSWER_TOKENS",
    "DEFAULT_TOKEN_BUDGET",
    "IFDResult",
    "PaddedBatch",
    "SequenceRows",
    "TokenizedPairs",
    "build_rows",
    "build_sequences",
    "compute_ifd",
    "default_token_budget",
    "model_max_length",
    "pad_rows",
    "plan_batches",
    "results_from_losses",
    "split_model",
    "start_token_id",
    "tokenize_pairs",
]

DEFAULT_BATCH_SIZE = 16
# Padded tokens (rows x width) per forward pass on a GPU, and on the CPU (see compute_ifd).
DEFAULT_TOKEN_BUDGET = 16384
# On the CPU each core scores its own batch (_scored_on_threads); 512 tokens keep a small
# model's activations near that core (measured on a loaded machine: 1.53x the reference
# against 1.45x at 1024; on a quiet one 256, 512 and 1024 were equal within noise).
CPU_TOKEN_BUDGET = 512
# A core gets batches of its own only when there are this many per core; fewer run one after
# another on all cores, so that a small call does not leave a core idle behind the last long
# batch (2-4 pairs: 0.83-0.92x the reference with a worker per batch, 1.08-1.12x this way).
CPU_BATCHES_PER_WORKER = 4


@dataclass(frozen=True)
class IFDResult:
    """The scores of one (prompt, answer) pair; losses are mean cross-entropies in nats."""

    loss_cond: float
    loss_uncond: float
    ifd: float
    ifd_ppl: float
    answer_tokens: int  # answer tokens scored, after the max_answer_tokens cut
    truncated: bool  # anything was cut from the answer or the prompt
    answer_cut_tokens: int = 0
    prompt_cut_tokens: int = 0  # cut from the left of the prompt to fit the model's length


def results_from_losses(
    tokenized: TokenizedPairs, loss_cond: Sequence[float], loss_uncond: Sequence[float]
) -> list[IFDResult]:
    """One ``IFDResult`` per pair, from its two mean losses and its recorded cuts."""
    columns = zip(
        loss_cond,
        loss_uncond,
        tokenized.answer_lengths.tolist(),
        tokenized.answer_cut.tolist(),
        tokenized.prompt_cut.tolist(),
        strict=True,
    )
    return [
        IFDResult(
            loss_cond=cond,
            loss_uncond=uncond,
            ifd=_ifd_ratio(cond, uncond),
            ifd_ppl=math.exp(cond - uncond),
            answer_tokens=answer_tokens,
            truncated=bool(answer_cut or prompt_cut),
            answer_cut_tokens=answer_cut,
            prompt_cut_tokens=prompt_cut,
        )
        for cond, uncond, answer_tokens, answer_cut, prompt_cut in columns
    ]


def _ifd_ratio(loss_cond: float, loss_uncond: float) -> float:
    if loss_uncond > 0:
        return loss_cond / loss_uncond
    # A perfectly predicted answer: the instruction cannot help (inf, dropped by the >= 1
    # filter) unless it is also perfectly predicted with it.
    return math.inf if loss_cond > 0 else 1.0


def default_token_budget(device: torch.device) -> int:
    return DEFAULT_TOKEN_BUDGET if device.type == "cuda" else CPU_TOKEN_BUDGET


def _worker_count(device: torch.device, cpu_workers: int | None, batches: int) -> int:
    if device.type != "cpu":
        return 1
    if cpu_workers is None:
        cpu_workers = torch.get_num_threads()
    if cpu_workers < 1:
        raise ValueError(f"cpu_workers must be at least 1, got {cpu_workers}")
    return max(1, min(cpu_workers, batches // CPU_BATCHES_PER_WORKER))


def _scored_on_threads(
    scorer: BatchScorer, batches: list[list[int]], workers: int
) -> list[torch.Tensor]:
    """Each batch's mean losses, the batches spread over ``workers`` threads of one core each.

    On the CPU the matrices of a small model are too small for several cores to share one
    multiply well, while each core on its own runs them at full speed; torch releases the
    GIL inside its kernels, so the threads run in parallel. Every batch is computed on one
    core whichever thread takes it, so the results do not depend on the scheduling.
    """
    threads_before = torch.get_num_threads()

    def one_core_each() -> None:
        torch.set_num_threads(1)  # this thread's OpenMP and MKL settings

    def score(sequence_indices: list[int]) -> torch.Tensor:
        with torch.inference_mode():  # thread-local, like every autograd mode
            return scorer.mean_losses(sequence_indices)

    try:
        with ThreadPoolExecutor(
            max_workers=workers, initializer=one_core_each, thread_name_prefix="ifd-cpu"
        ) as pool:
            return list(pool.map(score, batches))
    finally:
        # set_num_threads also sets the default that threads started later take up.
        torch.set_num_threads(threads_before)


def compute_ifd(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    pairs: Sequence[tuple[str, str]],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS,
    token_budget: int | None = None,
    logits_chunk_tokens: int | None = None,
    cpu_workers: int | None = None,
) -> list[IFDResult]:
    """IFD of each ``(prompt_text, answer_text)`` pair, in input order.

    The 2n sequences (``start + P + A`` and ``start + A`` of every pair) are batched by
    length, not pair by pair, so short unconditioned sequences are not padded to the length of
    their conditioned twin. A forward pass holds at most ``2 * batch_size`` sequences (as many
    as ``batch_size`` pairs) and ``token_budget`` padded tokens (rows x width; default
    ``DEFAULT_TOKEN_BUDGET`` on a GPU, ``CPU_TOKEN_BUDGET`` on the CPU, where small
    batches stay in cache and run faster). ``logits_chunk_tokens`` caps the positions projected
    onto the vocabulary at once (default: about 512 MiB of float32 logits). On the CPU,
    ``cpu_workers`` threads (default: ``torch.get_num_threads()``) each score whole batches on
    one core, which is faster there than all cores sharing each batch, when there are at least
    ``CPU_BATCHES_PER_WORKER`` batches per worker; 1 keeps one thread.
    """
    pairs = list(pairs)
    if not pairs:
        return []
    tokenized = tokenize_pairs(
        tokenizer,
        pairs,
        max_answer_tokens=max_answer_tokens,
        max_length=model_max_length(model.config, tokenizer),
    )
    device = model_device(model)
    batches = plan_batches(
        tokenized.sequence_lengths.tolist(),
        max_rows=2 * batch_size,
        token_budget=token_budget or default_token_budget(device),
    )
    workers = _worker_count(device, cpu_workers, len(batches))
    with torch.inference_mode():
        scorer = BatchScorer(model, tokenizer, tokenized, logits_chunk_tokens=logits_chunk_tokens)
        if workers > 1:
            batch_losses = _scored_on_threads(scorer, batches, workers)
        else:
            batch_losses = (scorer.mean_losses(sequence_indices) for sequence_indices in batches)
        # Results stay on the device until the end, so the CPU builds the next batch while the
        # GPU is still busy with the last one. That is also why the positions are copied with
        # non_blocking: torch.tensor(..., device="cuda") waits for the stream to drain.
        mean_losses = torch.empty(2 * len(pairs), dtype=torch.float32, device=device)
        for sequence_indices, losses in zip(batches, batch_losses, strict=True):
            positions = torch.tensor(sequence_indices).to(device, non_blocking=True)
            mean_losses[positions] = losses
        loss_cond, loss_uncond = mean_losses.cpu().split(len(pairs))
    return results_from_losses(tokenized, loss_cond.tolist(), loss_uncond.tolist())
