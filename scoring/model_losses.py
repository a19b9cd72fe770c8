"""The model side of IFD scoring: mean answer-token losses of padded batches.

A causal LM is split into backbone and output head (checked once per model against its own
logits), so that only the positions predicting an answer token meet the vocabulary
projection; a batch that runs out of GPU memory is retried in halves.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from scoring.sequences import (
    PaddedBatch,
    TokenizedPairs,
    build_sequences,
    pad_rows,
    start_token_id,
)

logger = logging.getLogger(__name__)

# Logit elements materialised at once when logits_chunk_tokens is not given: 2**27 float32
# values is 512 MiB, i.e. ~880 positions for a 152k vocabulary and the whole batch for a small one.
_LOGIT_ELEMENTS_PER_CHUNK = 1 << 27


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


def model_device(model: PreTrainedModel) -> torch.device:
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


class BatchScorer:
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
        self.device = model_device(model)
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
