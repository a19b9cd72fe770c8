"""compute_ifd against a deliberately naive one-pair-at-a-time reading of SPEC §4."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import pytest
import torch
import torch.nn.functional as F
from transformers import Gemma2Config, Gemma2ForCausalLM, LlamaForCausalLM

import scoring.model_losses
from scoring.backends import LoadedModel
from scoring.ifd import IFDResult, compute_ifd, plan_batches, split_model
from scoring.prompts import render_prompt
from scoring.toy import build_toy_tokenizer

TOLERANCE = 1e-4


@dataclass(frozen=True)
class NaiveScore:
    loss_cond: float
    loss_uncond: float
    answer_tokens: int
    answer_cut_tokens: int
    prompt_cut_tokens: int

    @property
    def ifd(self) -> float:
        return self.loss_cond / self.loss_uncond

    @property
    def ifd_ppl(self) -> float:
        return math.exp(self.loss_cond - self.loss_uncond)


def naive_ifd(model, tokenizer, prompt: str, answer: str, *, max_answer_tokens=512) -> NaiveScore:
    """SPEC §4 read literally: one unpadded sequence per forward pass, full model logits."""
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"]
    max_length = model.config.max_position_embeddings
    answer_kept = answer_ids[: min(max_answer_tokens, max_length - 1)]
    prompt_room = max_length - 1 - len(answer_kept)
    prompt_kept = (
        prompt_ids[len(prompt_ids) - prompt_room :] if len(prompt_ids) > prompt_room else prompt_ids
    )

    def mean_answer_loss(sequence: list[int]) -> float:
        ids = torch.tensor([sequence])
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0]
        n = len(answer_kept)
        return F.cross_entropy(logits[-n - 1 : -1].float(), ids[0, -n:]).item()

    return NaiveScore(
        loss_cond=mean_answer_loss([start, *prompt_kept, *answer_kept]),
        loss_uncond=mean_answer_loss([start, *answer_kept]),
        answer_tokens=len(answer_kept),
        answer_cut_tokens=len(answer_ids) - len(answer_kept),
        prompt_cut_tokens=len(prompt_ids) - len(prompt_kept),
    )


def assert_matches(results: list[IFDResult], expected: list[NaiveScore]) -> None:
    assert len(results) == len(expected)
    for index, (got, want) in enumerate(zip(results, expected, strict=True)):
        where = f"pair {index}"
        assert got.loss_cond == pytest.approx(want.loss_cond, abs=TOLERANCE), where
        assert got.loss_uncond == pytest.approx(want.loss_uncond, abs=TOLERANCE), where
        assert got.ifd == pytest.approx(want.ifd, abs=TOLERANCE), where
        assert got.ifd_ppl == pytest.approx(want.ifd_ppl, rel=TOLERANCE), where
        assert got.answer_tokens == want.answer_tokens, where
        assert got.answer_cut_tokens == want.answer_cut_tokens, where
        assert got.prompt_cut_tokens == want.prompt_cut_tokens, where
        assert got.truncated == bool(want.answer_cut_tokens or want.prompt_cut_tokens), where


def rendered_pairs(loaded: LoadedModel, triples) -> list[tuple[str, str]]:
    return [(render_prompt(loaded.tokenizer, i, x), o) for i, x, o in triples]


@pytest.fixture(scope="module", params=["llama_with_bos", "llama_without_bos", "qwen2_without_bos"])
def scored_case(request, mixed_triples):
    """A model, its rendered mixed pairs, and the naive scores of those pairs."""
    loaded: LoadedModel = request.getfixturevalue(request.param)
    pairs = rendered_pairs(loaded, mixed_triples)
    expected = [naive_ifd(loaded.model, loaded.tokenizer, p, a) for p, a in pairs]
    return loaded, pairs, expected


def test_batched_scores_equal_the_one_at_a_time_definition(scored_case):
    loaded, pairs, expected = scored_case
    results = compute_ifd(loaded.model, loaded.tokenizer, pairs)
    assert_matches(results, expected)
    # The mix really covers the edge cases it is meant to.
    assert any(r.answer_tokens == 1 for r in results)
    assert sum(r.answer_cut_tokens > 0 for r in results) == 2
    assert len({round(r.ifd, 6) for r in results}) > 1


@pytest.mark.parametrize(
    ("batch_size", "token_budget"),
    [(1, None), (3, None), (16, 16384), (16, 64)],
    ids=["batch-1", "batch-3", "batch-16", "tiny-budget"],
)
def test_results_come_back_in_input_order_whatever_the_batching(
    scored_case, batch_size, token_budget
):
    loaded, pairs, expected = scored_case
    results = compute_ifd(
        loaded.model, loaded.tokenizer, pairs, batch_size=batch_size, token_budget=token_budget
    )
    assert_matches(results, expected)


@pytest.mark.parametrize("cpu_workers", [1, 2, 5])
def test_cpu_worker_threads_give_the_same_scores_and_leave_torch_threads_as_they_were(
    scored_case, cpu_workers
):
    loaded, pairs, expected = scored_case
    threads_before = torch.get_num_threads()
    torch.set_num_threads(2)  # so that one worker and several really differ
    try:
        results = compute_ifd(
            loaded.model, loaded.tokenizer, pairs, batch_size=2, cpu_workers=cpu_workers
        )
        assert torch.get_num_threads() == 2
        # A thread started afterwards still gets the process's setting, not the workers' 1.
        seen_by_new_thread = []
        worker = threading.Thread(target=lambda: seen_by_new_thread.append(torch.get_num_threads()))
        worker.start()
        worker.join()
        assert seen_by_new_thread == [2]
    finally:
        torch.set_num_threads(threads_before)
    assert_matches(results, expected)


def test_cpu_workers_must_be_positive(llama_with_bos):
    with pytest.raises(ValueError, match="cpu_workers must be at least 1"):
        compute_ifd(
            llama_with_bos.model, llama_with_bos.tokenizer, [("p", "answer")], cpu_workers=0
        )


def test_answers_longer_than_max_answer_tokens_are_cut_and_the_cut_recorded(llama_with_bos):
    model, tokenizer = llama_with_bos.model, llama_with_bos.tokenizer
    pairs = [("说明一下：\n\n", "诚实守信是做人的根本。" * 8), ("Hi\n\n", "ok")]
    results = compute_ifd(model, tokenizer, pairs, max_answer_tokens=20)
    expected = [naive_ifd(model, tokenizer, p, a, max_answer_tokens=20) for p, a in pairs]
    assert_matches(results, expected)
    long_answer_tokens = len(tokenizer(pairs[0][1], add_special_tokens=False)["input_ids"])
    assert results[0].answer_tokens == 20
    assert results[0].answer_cut_tokens == long_answer_tokens - 20
    assert results[0].truncated
    assert not results[1].truncated


def test_prompts_too_long_for_the_model_are_cut_from_the_left(short_llama):
    model, tokenizer = short_llama.model, short_llama.tokenizer
    long_prompt = "请详细说明个人、社会与国家三个层面的价值观。" * 6 + "\n\n"
    answer = "诚实守信，尊重他人。"
    pairs = [(long_prompt, answer), ("短问题\n\n", answer)]
    results = compute_ifd(model, tokenizer, pairs, max_answer_tokens=16)
    expected = [naive_ifd(model, tokenizer, p, a, max_answer_tokens=16) for p, a in pairs]
    assert_matches(results, expected)

    prompt_tokens = len(tokenizer(long_prompt, add_special_tokens=False)["input_ids"])
    assert results[0].prompt_cut_tokens == 1 + prompt_tokens + results[0].answer_tokens - 64
    assert results[0].truncated and results[0].answer_cut_tokens == 0
    assert results[1].prompt_cut_tokens == 0 and not results[1].truncated


def test_answers_are_cut_to_fit_a_model_shorter_than_max_answer_tokens(short_llama):
    model, tokenizer = short_llama.model, short_llama.tokenizer
    pairs = [("问题\n\n", "社会需要公平正义。" * 60)]
    results = compute_ifd(model, tokenizer, pairs)  # max_answer_tokens=512 > 64 positions
    assert_matches(results, [naive_ifd(model, tokenizer, *pairs[0])])
    assert results[0].answer_tokens == 63
    assert results[0].prompt_cut_tokens > 0


def test_tokenizer_with_neither_bos_nor_eos_is_refused(llama_without_bos):
    tokenizer = build_toy_tokenizer(None, with_bos=False, chat_template=False)
    tokenizer.eos_token = None
    assert tokenizer.bos_token_id is None and tokenizer.eos_token_id is None
    with pytest.raises(ValueError, match="neither a BOS nor an EOS"):
        compute_ifd(llama_without_bos.model, tokenizer, [("问题\n\n", "回答")])


def test_empty_answers_are_refused_naming_the_pairs(llama_with_bos):
    pairs = [("a\n\n", "b"), ("c\n\n", ""), ("d\n\n", "e"), ("f\n\n", "")]
    with pytest.raises(ValueError, match=r"\[1, 3\]"):
        compute_ifd(llama_with_bos.model, llama_with_bos.tokenizer, pairs)


def test_no_pairs_gives_no_results(llama_with_bos):
    assert compute_ifd(llama_with_bos.model, llama_with_bos.tokenizer, []) == []


def test_out_of_memory_batches_are_halved_and_retried(llama_with_bos, mixed_triples, monkeypatch):
    loaded = llama_with_bos
    pairs = rendered_pairs(loaded, mixed_triples[:12])
    expected = compute_ifd(loaded.model, loaded.tokenizer, pairs)
    real_score_once = scoring.model_losses.BatchScorer._mean_losses_once
    attempted_sizes = []

    def score_once_with_little_memory(self, sequence_indices):
        attempted_sizes.append(len(sequence_indices))
        if len(sequence_indices) > 3:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_score_once(self, sequence_indices)

    monkeypatch.setattr(
        scoring.model_losses.BatchScorer, "_mean_losses_once", score_once_with_little_memory
    )
    results = compute_ifd(loaded.model, loaded.tokenizer, pairs, batch_size=8, token_budget=16384)
    assert [r.ifd for r in results] == pytest.approx([r.ifd for r in expected], abs=TOLERANCE)
    assert max(attempted_sizes) == 16  # 8 pairs' worth of sequences, then halved
    assert min(attempted_sizes) <= 3


def test_a_single_pair_that_runs_out_of_memory_raises(llama_with_bos, monkeypatch):
    def always_out_of_memory(self, sequence_indices):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(scoring.model_losses.BatchScorer, "_mean_losses_once", always_out_of_memory)
    with pytest.raises(torch.OutOfMemoryError):
        compute_ifd(
            llama_with_bos.model, llama_with_bos.tokenizer, [("a\n\n", "b"), ("c\n\n", "d")]
        )


class HalvedLogitsLlama(LlamaForCausalLM):
    """A model whose logits are not just head(backbone(x)), like remote-code models can be."""

    def forward(self, *args, **kwargs):
        output = super().forward(*args, **kwargs)
        output.logits = output.logits * 0.5
        return output


def test_models_whose_logits_are_transformed_fall_back_to_full_logits(
    llama_with_bos, mixed_triples
):
    tokenizer = llama_with_bos.tokenizer
    model = HalvedLogitsLlama(llama_with_bos.model.config)
    model.load_state_dict(llama_with_bos.model.state_dict())
    model.eval()
    pairs = rendered_pairs(llama_with_bos, mixed_triples[:10])

    assert split_model(model) is None
    results = compute_ifd(model, tokenizer, pairs, batch_size=4)
    assert_matches(results, [naive_ifd(model, tokenizer, p, a) for p, a in pairs])


def test_final_logit_softcapping_is_applied_on_the_fast_path(llama_with_bos, mixed_triples):
    tokenizer = llama_with_bos.tokenizer
    config = Gemma2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=1024,
        final_logit_softcapping=2.0,  # small, so capping changes the losses a lot
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        attn_implementation="eager",  # Gemma2 has no SDPA support (attention soft-capping)
    )
    torch.manual_seed(0)
    model = Gemma2ForCausalLM(config).eval()
    pairs = rendered_pairs(llama_with_bos, mixed_triples[:10])

    split = split_model(model)
    assert split is not None and split.softcap == 2.0
    results = compute_ifd(model, tokenizer, pairs, batch_size=4)
    assert_matches(results, [naive_ifd(model, tokenizer, p, a) for p, a in pairs])


def test_batches_respect_the_row_cap_and_the_token_budget():
    lengths = [5, 300, 40, 41, 700, 12, 12, 90, 3, 250, 1200]
    batches = plan_batches(lengths, max_rows=3, token_budget=1000)
    assert sorted(i for batch in batches for i in batch) == list(range(len(lengths)))
    assert [1200] in ([lengths[i] for i in batch] for batch in batches)  # alone, over budget
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 1000


def _scoring_threads(model, run) -> set[int]:
    """The threads that ran forward passes during run() (every pass embeds its input)."""
    seen: set[int] = set()
    embeddings = model.get_input_embeddings()
    handle = embeddings.register_forward_pre_hook(
        lambda module, args: seen.add(threading.get_ident())
    )
    try:
        run()
    finally:
        handle.remove()
    return seen


def test_cpu_workers_take_batches_of_their_own_only_when_there_are_enough(scored_case):
    loaded, pairs, _expected = scored_case
    model, tokenizer = loaded.model, loaded.tokenizer

    def score(part):
        return lambda: compute_ifd(model, tokenizer, part, batch_size=2, cpu_workers=2)

    # Two pairs make at most two batches: they run one after another on the calling thread.
    assert _scoring_threads(model, score(pairs[:2])) == {threading.get_ident()}
    # Fifty pairs in batches of two make plenty: two workers share them, the caller waits.
    many = _scoring_threads(model, score(pairs))
    assert len(many) == 2 and threading.get_ident() not in many
