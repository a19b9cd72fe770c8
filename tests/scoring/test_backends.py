from __future__ import annotations

import pytest
import torch

from scoring.backends import (
    LocalIFDScorer,
    ScoringInput,
    clear_model_cache,
    get_scorer,
    load_causal_lm,
    resolve_device,
)
from scoring.ifd import compute_ifd
from scoring.prompts import render_prompt


def test_auto_device_is_cuda_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match="only 2 GPU"):
        resolve_device("cuda:2")


def test_auto_device_is_cpu_without_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device() == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_asking_for_cuda_without_cuda_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")


def test_an_unknown_device_is_an_error():
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        resolve_device("gpu")


def test_a_model_loaded_on_cpu_is_float32_in_eval_mode_with_sdpa(llama_with_bos):
    assert llama_with_bos.device == torch.device("cpu")
    assert llama_with_bos.dtype == torch.float32
    assert next(llama_with_bos.model.parameters()).dtype == torch.float32
    assert not llama_with_bos.model.training
    assert llama_with_bos.model.config._attn_implementation == "sdpa"


def test_loading_the_same_model_twice_gives_the_same_object(llama_with_bos, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    first = load_causal_lm(llama_with_bos.name, device="cpu")
    assert load_causal_lm(llama_with_bos.name, device="cpu") is first
    # "auto" resolves to the same device here, so it is the same cached model too.
    assert load_causal_lm(llama_with_bos.name, device="auto") is first


def test_clearing_the_cache_loads_afresh(llama_with_bos):
    first = load_causal_lm(llama_with_bos.name, device="cpu")
    clear_model_cache()
    second = load_causal_lm(llama_with_bos.name, device="cpu")
    assert second is not first
    assert load_causal_lm(llama_with_bos.name, device="cpu") is second


def test_local_scorer_renders_prompts_and_scores_like_compute_ifd(llama_with_bos, mixed_triples):
    inputs = [ScoringInput(instruction=i, input=x, output=o) for i, x, o in mixed_triples[:12]]
    scorer = get_scorer(llama_with_bos.name, device="cpu", batch_size=4, max_answer_tokens=64)

    assert isinstance(scorer, LocalIFDScorer)
    assert scorer.name == llama_with_bos.name
    assert scorer.max_answer_tokens == 64
    tokenizer = scorer.loaded.tokenizer
    pairs = [(render_prompt(tokenizer, s.instruction, s.input), s.output) for s in inputs]
    expected = compute_ifd(scorer.loaded.model, tokenizer, pairs, max_answer_tokens=64)
    results = scorer.score(inputs)
    assert [r.ifd for r in results] == pytest.approx([r.ifd for r in expected], abs=1e-5)
    assert [r.answer_tokens for r in results] == [r.answer_tokens for r in expected]
