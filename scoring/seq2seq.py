"""Translation with a sequence-to-sequence model loaded in this process (MarianMT, NLLB, ...).

The source text of a request is the content of its last user message. Such models are
trained on sentences: a text longer than the model takes is cut (the caller splits long texts
into sentences first). Multilingual models get the target language the way each expects it:
NLLB/M2M100 a forced first target token (``zho_Hans``), multi-target Marian models a
``>>cmn_Hans<<`` token at the start of the source.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

from scoring.backends import LoadedModel, resolve_device
from scoring.generation import GenerationError, GenerationRequest
from scoring.ifd import model_max_length
from scoring.local_lm import (
    batches_by_length,
    cut_at_stop,
    generation_config,
    pad_token_id,
    seeded,
    stop_token_ids,
)

logger = logging.getLogger(__name__)

# Target-language spellings, tried in order: NLLB's, M2M100's, then Marian's prefix tokens.
FORCED_TARGET_TOKENS = ("zho_Hans", "__zh__")
MARIAN_TARGET_PREFIXES = (">>cmn_Hans<<", ">>zho_Hans<<", ">>cmn<<", ">>zho<<")
NLLB_SOURCE_LANGUAGE = "eng_Latn"

_cache: dict[tuple[str, str], LoadedModel] = {}
_cache_lock = threading.Lock()


def load_seq2seq_lm(name_or_path: str, *, device: str = "auto") -> LoadedModel:
    """Load a seq2seq model and its tokenizer once per process and device.

    float32 on the CPU, bfloat16 on CUDA, as for the causal models.
    """
    resolved = resolve_device(device)
    key = (str(name_or_path), str(resolved))
    with _cache_lock:
        if key not in _cache:
            dtype = torch.bfloat16 if resolved.type == "cuda" else torch.float32
            tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
            model = AutoModelForSeq2SeqLM.from_pretrained(str(name_or_path), dtype=dtype)
            model.to(resolved)
            model.eval()
            _cache[key] = LoadedModel(
                model=model,
                tokenizer=tokenizer,
                device=resolved,
                dtype=dtype,
                name=str(name_or_path),
            )
        return _cache[key]


def clear_seq2seq_cache() -> None:
    with _cache_lock:
        _cache.clear()


def source_text(request: GenerationRequest, index: int | None = None) -> str:
    """The content of the request's last user message."""
    for message in reversed(request.messages):
        if message["role"] == "user":
            return message["content"]
    raise GenerationError(
        f"request {index}: a translation request needs a user message holding the source text",
        index=index,
    )


class Seq2SeqGenerator:
    """``Generator`` over a ``LoadedModel`` from ``load_seq2seq_lm``."""

    is_chat = False

    def __init__(self, loaded: LoadedModel, *, batch_size: int = 8, num_beams: int = 1) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self.loaded = loaded
        self.name = loaded.name
        self.batch_size = batch_size
        self.num_beams = num_beams
        tokenizer, model = loaded.tokenizer, loaded.model
        self.pad_token_id = pad_token_id(tokenizer, model)
        self.stop_ids = stop_token_ids(tokenizer, model)
        self.max_length = model_max_length(model.config, tokenizer) or 512
        self.forced_bos_token_id, self.source_prefix = _target_language(tokenizer)
        if hasattr(tokenizer, "src_lang") and self.forced_bos_token_id is not None:
            tokenizer.src_lang = NLLB_SOURCE_LANGUAGE

    def encode(self, request: GenerationRequest, index: int | None = None) -> list[int]:
        text = self.source_prefix + source_text(request, index)
        ids = self.loaded.tokenizer(text)["input_ids"]
        if len(ids) > self.max_length:
            logger.warning(
                "%s: a source of %d tokens was cut to %d", self.name, len(ids), self.max_length
            )
            # Keep the end-of-source token(s) the tokenizer appended.
            ids = ids[: self.max_length - 1] + ids[-1:]
        return ids

    def generate(self, requests: Sequence[GenerationRequest], *, seed: int = 0) -> list[str]:
        sources = [self.encode(request, index) for index, request in enumerate(requests)]
        limits = [request.max_new_tokens for request in requests]
        texts: list[str] = [""] * len(requests)
        for number, batch in enumerate(batches_by_length(sources, limits, self.batch_size)):
            outputs = self._generate_batch(
                [sources[i] for i in batch], max(limits[i] for i in batch), seed=seed + number
            )
            for index, tokens in zip(batch, outputs, strict=True):
                kept = cut_at_stop(self._strip_start(tokens)[: limits[index]], self.stop_ids)
                texts[index] = self.loaded.tokenizer.decode(kept, skip_special_tokens=True).strip()
        return texts

    def _strip_start(self, tokens: list[int]) -> list[int]:
        """Drop the decoder start token (and a forced language token) generate() returns."""
        start = self.loaded.model.generation_config.decoder_start_token_id
        if tokens and tokens[0] == start:
            tokens = tokens[1:]
        if (
            tokens
            and self.forced_bos_token_id is not None
            and tokens[0] == self.forced_bos_token_id
        ):
            tokens = tokens[1:]
        return tokens

    def _generate_batch(self, sources: list[list[int]], max_new_tokens: int, *, seed: int):
        model = self.loaded.model
        width = max(len(row) for row in sources)
        input_ids = torch.full((len(sources), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(sources), width), dtype=torch.long)
        for number, row in enumerate(sources):
            input_ids[number, : len(row)] = torch.tensor(row, dtype=torch.long)
            attention_mask[number, : len(row)] = 1
        config = generation_config(
            model,
            max_new_tokens=max_new_tokens,
            min_new_tokens=0,
            temperature=0.0,
            top_p=1.0,
            pad_token_id=self.pad_token_id,
        )
        config.num_beams = self.num_beams
        if self.forced_bos_token_id is not None:
            config.forced_bos_token_id = self.forced_bos_token_id
        device = self.loaded.device
        with seeded(seed, device), torch.inference_mode():
            output = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention_mask.to(device),
                generation_config=config,
            )
        return output.tolist()


def _target_language(tokenizer) -> tuple[int | None, str]:
    """(forced first target token, source prefix) for Chinese output, where the model needs
    one; (None, "") for a single-pair model such as opus-mt-en-zh's bilingual cousins."""
    vocab = tokenizer.get_vocab()
    for token in FORCED_TARGET_TOKENS:
        if token in vocab:
            return vocab[token], ""
    for token in MARIAN_TARGET_PREFIXES:
        if token in vocab:
            return None, token + " "
    return None, ""
