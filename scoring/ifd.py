"""Instruction-Following Difficulty (IFD) scores, computed in batches (SPEC §4).

For a prompt ``p`` and an answer ``a``: ``loss_cond`` is the mean cross-entropy of the answer
tokens in ``start + P + A``, ``loss_uncond`` the same in ``start + A``;
``ifd = loss_cond / loss_uncond`` (Cherry LLM) and ``ifd_ppl = exp(loss_cond - loss_uncond)``
(Superfiltering).

Reference implementations (Cherry LLM) score one pair at a time, with two forward passes and
logits at every position. Here all 2n sequences are sorted by length and cut into
right-padded batches under a token budget, so conditioned and unconditioned sequences share
forward passes and little is spent on padding; the vocabulary projection is applied only at
the positions that predict an answer token. The index work is done on flat tensors: there is
no Python loop over tokens, and none over samples beyond building the batch plan.
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from itertools import chain

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 16
DEFAULT_MAX_ANSWER_TOKENS = 512
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
# Logit elements materialised at once when logits_chunk_tokens is not given: 2**27 float32
# values is 512 MiB, i.e. ~880 positions for a 152k vocabulary and the whole batch for a small one.
_LOGIT_ELEMENTS_PER_CHUNK = 1 << 27
# Tokenizers without a known limit report model_max_length as a huge sentinel (int(1e30)).
_SANE_TOKENIZER_LIMIT = 10_000_000


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


# --- Token sequences (shared with scoring.remote) -------------------------------------------


@dataclass(frozen=True)
class TokenizedPairs:
    """Every pair's tokens in one flat tensor, and where each pair's kept pieces lie in it.

    ``source`` is ``[start] + all prompt tokens + all answer tokens``; a pair's conditioned
    sequence is ``source[0:1] + source[prompt slice] + source[answer slice]``, already cut.
    """

    source: torch.Tensor
    prompt_offsets: torch.Tensor
    prompt_lengths: torch.Tensor  # kept, i.e. after the left cut
    answer_offsets: torch.Tensor
    answer_lengths: torch.Tensor  # kept, i.e. after the max_answer_tokens cut
    prompt_cut: torch.Tensor
    answer_cut: torch.Tensor

    def __len__(self) -> int:
        return len(self.answer_lengths)

    @property
    def cond_lengths(self) -> torch.Tensor:
        return 1 + self.prompt_lengths + self.answer_lengths

    @property
    def sequence_lengths(self) -> torch.Tensor:
        """Lengths of all 2n sequences: ``start + P + A`` of pair i at i, ``start + A`` at n + i."""
        return torch.cat([self.cond_lengths, 1 + self.answer_lengths])


@dataclass(frozen=True)
class SequenceRows:
    """Sequences to score, concatenated in one flat tensor."""

    token_ids: torch.Tensor  # all rows concatenated
    row_lengths: torch.Tensor
    answer_lengths: torch.Tensor  # the last answer_lengths[r] tokens of row r are scored

    def as_lists(self) -> list[list[int]]:
        return [row.tolist() for row in torch.split(self.token_ids, self.row_lengths.tolist())]


def start_token_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The token every sequence starts with: BOS, or EOS for tokenizers without one."""
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    raise ValueError(
        f"{type(tokenizer).__name__} has neither a BOS nor an EOS token; IFD scoring needs one "
        "of them to start every sequence"
    )


def model_max_length(
    config: PretrainedConfig | None, tokenizer: PreTrainedTokenizerBase | None = None
) -> int | None:
    """The longest sequence a model takes: its position limit, or the tokenizer's if smaller."""
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    limits = [getattr(text_config, "max_position_embeddings", None)]
    if tokenizer is not None:
        limits.append(getattr(tokenizer, "model_max_length", None))
    sane = [n for n in limits if isinstance(n, int) and 1 < n < _SANE_TOKENIZER_LIMIT]
    return min(sane) if sane else None


def _exclusive_cumsum(lengths: torch.Tensor) -> torch.Tensor:
    return torch.cumsum(lengths, 0) - lengths


def _flatten(token_lists: list[list[int]]) -> torch.Tensor:
    # numpy fills a preallocated array straight from the iterator: 2.4x faster than building
    # one Python list of every token first (0.23 s against 0.56 s for 4.2M tokens).
    total = sum(map(len, token_lists))
    flat = np.fromiter(chain.from_iterable(token_lists), dtype=np.int64, count=total)
    return torch.from_numpy(flat)


def tokenize_pairs(
    tokenizer: PreTrainedTokenizerBase,
    pairs: Sequence[tuple[str, str]],
    *,
    max_answer_tokens: int = DEFAULT_MAX_ANSWER_TOKENS,
    max_length: int | None = None,
) -> TokenizedPairs:
    """Tokenize all prompts and all answers (one batched call each) and apply both cuts.

    When the model is shorter than ``1 + max_answer_tokens`` the answer is cut to
    ``max_length - 1`` as well, so every sequence still fits.
    """
    if max_answer_tokens < 1:
        raise ValueError(f"max_answer_tokens must be at least 1, got {max_answer_tokens}")
    if max_length is not None and max_length < 2:
        raise ValueError(f"max_length must be at least 2, got {max_length}")
    start = start_token_id(tokenizer)
    prompt_ids = tokenizer([p for p, _ in pairs], add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer([a for _, a in pairs], add_special_tokens=False)["input_ids"]
    empty = [i for i, ids in enumerate(answer_ids) if not ids]
    if empty:
        raise ValueError(f"answers with no tokens cannot be scored (pair index {empty})")

    prompt_full = torch.tensor([len(ids) for ids in prompt_ids], dtype=torch.long)
    answer_full = torch.tensor([len(ids) for ids in answer_ids], dtype=torch.long)
    answer_cap = max_answer_tokens if max_length is None else min(max_answer_tokens, max_length - 1)
    answer_kept = answer_full.clamp(max=answer_cap)
    if max_length is None:
        prompt_kept = prompt_full
    else:
        prompt_kept = torch.minimum(prompt_full, max_length - 1 - answer_kept)
    prompt_cut = prompt_full - prompt_kept

    total_prompt = int(prompt_full.sum())
    return TokenizedPairs(
        source=torch.cat([torch.tensor([start]), _flatten(prompt_ids), _flatten(answer_ids)]),
        # The left cut drops a prompt's first tokens, so its kept part starts later.
        prompt_offsets=1 + _exclusive_cumsum(prompt_full) + prompt_cut,
        prompt_lengths=prompt_kept,
        answer_offsets=1 + total_prompt + _exclusive_cumsum(answer_full),
        answer_lengths=answer_kept,
        prompt_cut=prompt_cut,
        answer_cut=answer_full - answer_kept,
    )


def _gather_segments(
    source: torch.Tensor, seg_starts: torch.Tensor, seg_lengths: torch.Tensor
) -> torch.Tensor:
    """Concatenate ``source[start:start + length]`` for every segment, without a Python loop."""
    total = int(seg_lengths.sum())
    within = torch.arange(total) - torch.repeat_interleave(
        _exclusive_cumsum(seg_lengths), seg_lengths, output_size=total
    )
    return source[torch.repeat_interleave(seg_starts, seg_lengths, output_size=total) + within]


def build_sequences(tokenized: TokenizedPairs, sequence_indices: torch.Tensor) -> SequenceRows:
    """The given sequences (numbered as in ``TokenizedPairs.sequence_lengths``), flat."""
    pairs = sequence_indices % len(tokenized)
    conditioned = sequence_indices < len(tokenized)
    answer_offsets = tokenized.answer_offsets[pairs]
    answer_lengths = tokenized.answer_lengths[pairs]
    # Each sequence is three segments of `source`: the start token, the prompt (empty when
    # unconditioned) and the answer.
    seg_starts = torch.stack(
        [torch.zeros_like(pairs), tokenized.prompt_offsets[pairs], answer_offsets], dim=1
    )
    seg_lengths = torch.stack(
        [
            torch.ones_like(pairs),
            torch.where(conditioned, tokenized.prompt_lengths[pairs], 0),
            answer_lengths,
        ],
        dim=1,
    )
    return SequenceRows(
        token_ids=_gather_segments(tokenized.source, seg_starts.flatten(), seg_lengths.flatten()),
        row_lengths=seg_lengths.sum(dim=1),
        answer_lengths=answer_lengths,
    )


def build_rows(tokenized: TokenizedPairs, pair_indices: torch.Tensor) -> SequenceRows:
    """The ``start + P + A`` sequences of the given pairs, followed by their ``start + A`` ones."""
    return build_sequences(tokenized, torch.cat([pair_indices, pair_indices + len(tokenized)]))


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


# --- Batching -------------------------------------------------------------------------------


def plan_batches(lengths: Sequence[int], *, max_rows: int, token_budget: int) -> list[list[int]]:
    """Group sequence indices, longest first, so each batch pads little and fits the budget.

    A batch holds at most ``max_rows`` sequences and ``rows * longest <= token_budget`` padded
    tokens; a single sequence over the budget still gets a batch of its own.
    """
    if max_rows < 1 or token_budget < 1:
        raise ValueError("max_rows and token_budget must be positive")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batches: list[list[int]] = []
    for index in order:
        batch = batches[-1] if batches else None
        # Sorted longest first, so a batch's width is the length of its first sequence.
        if (
            batch is not None
            and len(batch) < max_rows
            and (len(batch) + 1) * lengths[batch[0]] <= token_budget
        ):
            batch.append(index)
        else:
            batches.append([index])
    return batches


@dataclass(frozen=True)
class PaddedBatch:
    # rows x width, right-padded. There is no attention mask on purpose: in a causal model a
    # token only attends to earlier positions, so padding after a sequence's end cannot change
    # its logits, and without a mask SDPA runs its causal kernel (flash attention on a GPU),
    # which skips the masked half of the score matrix instead of computing it all.
    input_ids: torch.Tensor
    score_rows: torch.Tensor  # (row, col) of each position whose next token is an answer token
    score_cols: torch.Tensor
    targets: torch.Tensor  # that next token
    answer_lengths: torch.Tensor  # per row


def pad_rows(rows: SequenceRows, *, pad_id: int) -> PaddedBatch:
    lengths = rows.row_lengths
    n_rows, width, total = len(lengths), int(lengths.max()), int(lengths.sum())
    row_of_token = torch.repeat_interleave(torch.arange(n_rows), lengths, output_size=total)
    col_of_token = torch.arange(total) - torch.repeat_interleave(
        _exclusive_cumsum(lengths), lengths, output_size=total
    )
    input_ids = torch.full((n_rows, width), pad_id, dtype=torch.long)
    input_ids[row_of_token, col_of_token] = rows.token_ids

    # A row of length L ending in a answer tokens predicts them at columns L-a-1 .. L-2.
    answers = rows.answer_lengths
    scored = int(answers.sum())
    score_rows = torch.repeat_interleave(torch.arange(n_rows), answers, output_size=scored)
    score_cols = (
        torch.arange(scored)
        - torch.repeat_interleave(_exclusive_cumsum(answers), answers, output_size=scored)
        + torch.repeat_interleave(lengths - answers - 1, answers, output_size=scored)
    )
    return PaddedBatch(
        input_ids=input_ids,
        score_rows=score_rows,
        score_cols=score_cols,
        targets=input_ids[score_rows, score_cols + 1],
        answer_lengths=answers,
    )


# --- Model side -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _SplitModel:
    """A causal LM seen as backbone -> hidden states -> output head (-> optional soft-cap)."""

    backbone: nn.Module
    head: nn.Module
    softcap: float | None


# Per-model answer to "is the backbone/head split faithful?", checked once per process.
_split_cache: weakref.WeakKeyDictionary[nn.Module, _SplitModel | None] = weakref.WeakKeyDictionary()


def _candidate_split(model: PreTrainedModel) -> _SplitModel | None:
    backbone = getattr(model, getattr(model, "base_model_prefix", ""), None)
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if not isinstance(backbone, nn.Module) or backbone is model or not isinstance(head, nn.Linear):
        return None
    softcap = getattr(model.config, "final_logit_softcapping", None)
    return _SplitModel(backbone=backbone, head=head, softcap=float(softcap) if softcap else None)


def _split_logits(split: _SplitModel, hidden: torch.Tensor) -> torch.Tensor:
    logits = split.head(hidden)
    if split.softcap is not None:
        logits = torch.tanh(logits / split.softcap) * split.softcap
    return logits


def _last_hidden_state(backbone: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    output = backbone(input_ids=input_ids, use_cache=False)
    return output.last_hidden_state if hasattr(output, "last_hidden_state") else output[0]


def split_model(model: PreTrainedModel) -> _SplitModel | None:
    """The backbone/head split of ``model``, or None when logits must come from the full model.

    The split is verified once against the model's own logits on a short probe, so an
    architecture that scales or transforms logits in a way we do not know about (remote-code
    models, logit scales) falls back to full logits rather than giving wrong scores.
    """
    if model in _split_cache:
        return _split_cache[model]
    split = _candidate_split(model)
    if split is not None:
        device = split.head.weight.device
        probe = (torch.arange(8, device=device) * 7919 % split.head.out_features)[None, :]
        with torch.inference_mode():
            full = model(input_ids=probe, use_cache=False).logits.float()
            mine = _split_logits(split, _last_hidden_state(split.backbone, probe)).float()
        tolerance = 1e-2 * (1.0 + float(full.abs().max()))
        if full.shape != mine.shape or float((full - mine).abs().max()) > tolerance:
            logger.warning(
                "%s: backbone + output head do not reproduce the model's logits; "
                "scoring with full logits (slower, more memory)",
                type(model).__name__,
            )
            split = None
    _split_cache[model] = split
    return split


def _answer_token_losses(
    model: PreTrainedModel,
    split: _SplitModel | None,
    batch: PaddedBatch,
    *,
    logits_chunk_tokens: int,
) -> torch.Tensor:
    """Float32 cross-entropy of every answer token of the batch, flat in row order."""
    if split is not None:
        states = _last_hidden_state(split.backbone, batch.input_ids)
    else:
        states = model(input_ids=batch.input_ids, use_cache=False).logits
    # Only the positions that predict an answer token are kept: with the split, they are the
    # only ones that ever meet the (large) vocabulary projection.
    scored = states[batch.score_rows, batch.score_cols]
    del states

    losses = torch.empty(len(batch.targets), dtype=torch.float32, device=scored.device)
    for begin in range(0, len(scored), logits_chunk_tokens):
        end = begin + logits_chunk_tokens
        logits = scored[begin:end] if split is None else _split_logits(split, scored[begin:end])
        losses[begin:end] = F.cross_entropy(
            logits.float(), batch.targets[begin:end], reduction="none"
        )
    return losses


def _row_mean_losses(
    model: PreTrainedModel,
    split: _SplitModel | None,
    batch: PaddedBatch,
    *,
    logits_chunk_tokens: int,
) -> torch.Tensor:
    token_losses = _answer_token_losses(
        model, split, batch, logits_chunk_tokens=logits_chunk_tokens
    )
    sums = torch.zeros(len(batch.answer_lengths), dtype=torch.float32, device=token_losses.device)
    sums.index_add_(0, batch.score_rows, token_losses)
    return sums / batch.answer_lengths.to(sums)


def _model_device(model: PreTrainedModel) -> torch.device:
    return next(model.parameters()).device


def _to_device(batch: PaddedBatch, device: torch.device) -> PaddedBatch:
    if device.type == "cpu":
        return batch
    return PaddedBatch(
        **{
            field.name: getattr(batch, field.name).to(device, non_blocking=True)
            for field in fields(batch)
        }
    )


class _BatchScorer:
    """Scores batches of sequences of one tokenized set; halves a batch that runs out of memory."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        tokenized: TokenizedPairs,
        *,
        logits_chunk_tokens: int | None,
    ) -> None:
        self.model = model
        self.tokenized = tokenized
        self.split = split_model(model)
        self.device = _model_device(model)
        # Padding is never attended to, so any id does; the start token is one the model's
        # embedding surely has (a tokenizer's pad token may lie beyond it).
        self.pad_id = start_token_id(tokenizer)
        if logits_chunk_tokens is None:
            vocab = model.config.get_text_config().vocab_size
            logits_chunk_tokens = max(64, _LOGIT_ELEMENTS_PER_CHUNK // vocab)
        self.logits_chunk_tokens = logits_chunk_tokens

    def mean_losses(self, sequence_indices: list[int]) -> torch.Tensor:
        """Mean answer-token loss of each sequence, on the model's device, in the order given."""
        try:
            return self._mean_losses_once(sequence_indices)
        except torch.OutOfMemoryError:
            if len(sequence_indices) == 1:
                raise
        # Retry outside the except block: the traceback holds the failed attempt's tensors.
        torch.cuda.empty_cache()
        half = len(sequence_indices) // 2
        logger.warning("out of memory on %d sequences; retrying in halves", len(sequence_indices))
        return torch.cat(
            [self.mean_losses(sequence_indices[:half]), self.mean_losses(sequence_indices[half:])]
        )

    def _mean_losses_once(self, sequence_indices: list[int]) -> torch.Tensor:
        rows = build_sequences(self.tokenized, torch.tensor(sequence_indices, dtype=torch.long))
        batch = _to_device(pad_rows(rows, pad_id=self.pad_id), self.device)
        return _row_mean_losses(
            self.model, self.split, batch, logits_chunk_tokens=self.logits_chunk_tokens
        )


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
    scorer: _BatchScorer, batches: list[list[int]], workers: int
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
    device = _model_device(model)
    batches = plan_batches(
        tokenized.sequence_lengths.tolist(),
        max_rows=2 * batch_size,
        token_budget=token_budget or default_token_budget(device),
    )
    workers = _worker_count(device, cpu_workers, len(batches))
    with torch.inference_mode():
        scorer = _BatchScorer(model, tokenizer, tokenized, logits_chunk_tokens=logits_chunk_tokens)
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
