"""Token sequences for IFD scoring (SPEC §4): tokenize pairs and apply the cuts, build the
conditioned (``start + P + A``) and unconditioned (``start + A``) sequences, plan batches by
length and pad them.

All index work is done on flat tensors: no Python loop over tokens, and none over samples
beyond building the batch plan. Shared by the local scorer (scoring.ifd) and the remote one
(scoring.remote), which must send exactly the sequences the local one scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import torch
from transformers import PretrainedConfig, PreTrainedTokenizerBase

DEFAULT_MAX_ANSWER_TOKENS = 512
# Tokenizers without a known limit report model_max_length as a huge sentinel (int(1e30)).
_SANE_TOKENIZER_LIMIT = 10_000_000


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
