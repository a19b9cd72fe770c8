"""Benchmark: batched ``compute_ifd`` against one-pair-at-a-time IFD scoring.

    python bench/ifd.py --pairs 400                          # CPU, small random Llama
    python bench/ifd.py --device cuda --shape qwen2.5-0.5b --pairs 4000 --batch-size 64 \
        --token-budget 65536

All methods score the same generated pairs in the same process:
- reference: batch 1, two forward passes per pair through the full model (logits at every
  position), the per-sample loss from ``labels``: the strongest unbatched baseline;
- Cherry LLM as published: the same, plus its per-token loop (``log_softmax`` of each
  position and ``.item()`` per token, kept because it returns per-token losses);
- ``compute_ifd``.
On a shared CPU the methods take turns (``--rounds``) so that load from other processes falls
on all of them alike.

Models have random weights and the toy byte-level tokenizer (ids below 1024 even when the
model's vocabulary is larger), so only the timings mean anything.
Only torch, transformers and ``scoring`` are imported: this runs on a bare GPU box.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script

from scoring.backends import resolve_device
from scoring.ifd import (
    TokenizedPairs,
    compute_ifd,
    default_token_budget,
    model_max_length,
    plan_batches,
    start_token_id,
    tokenize_pairs,
)
from scoring.toy import build_toy_tokenizer

ALPACA_PAIRS = 52_002
# Dense bf16 tensor-core peaks (TFLOP/s, no sparsity), by a substring of the device name; the
# first match wins, so the PCIe and NVL cards come before the SXM figure they would also match.
PEAK_BF16_TFLOPS = {
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H200 NVL": 835.0,
    "H200": 989.0,
    "H100": 989.0,
    "A100": 312.0,
}

_ZH_CHARS = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说"
    "产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点"
    "从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原"
)
_EN_WORDS = (  # noqa: SIM905 - a word list reads best as one string
    "the of and to in is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there been one all we their has would when if so no will "
    "value honesty society nation person safety privacy answer question explain describe why how"
).split()


@dataclass(frozen=True)
class Shape:
    arch: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int | None  # None: the toy tokenizer's
    tied: bool


SHAPES = {
    "small": Shape("llama", 256, 4, 4, 4, 688, None, False),
    "qwen2.5-0.5b": Shape("qwen2", 896, 24, 14, 2, 4864, 151_936, True),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument(
        "--reference-pairs",
        type=int,
        default=None,
        help="pairs the references score (default: min(pairs, 80))",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument(
        "--dtype", choices=["auto", "float32", "bfloat16", "float16"], default="auto"
    )
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--vocab", type=int, default=None, help="override the model's vocabulary")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--token-budget", type=int, default=None, help="default: by device")
    parser.add_argument("--max-answer-tokens", type=int, default=512)
    parser.add_argument("--max-positions", type=int, default=4096)
    parser.add_argument(
        "--rounds", type=int, default=None, help="turns (default: 4 on CPU, 1 on GPU)"
    )
    parser.add_argument(
        "--skip-cherry", action="store_true", help="skip the per-token-loop variant"
    )
    parser.add_argument("--peak-tflops", type=float, default=None, help="override the peak table")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--cpu-workers",
        type=int,
        default=None,
        help="compute_ifd's threads on the CPU (default: one per torch thread)",
    )
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def build_model(shape: Shape, vocab: int, *, max_positions: int, device, dtype, tokenizer):
    config_class, model_class = {
        "llama": (LlamaConfig, LlamaForCausalLM),
        "qwen2": (Qwen2Config, Qwen2ForCausalLM),
    }[shape.arch]
    config = config_class(
        vocab_size=vocab,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        max_position_embeddings=max_positions,
        tie_word_embeddings=shape.tied,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    with torch.device(device):  # initialise in place: a 0.5B model is slow to build on a CPU
        model = model_class(config)
    return model.to(dtype).eval()


# --- Pairs ----------------------------------------------------------------------------------


def random_piece(rng: random.Random) -> str:
    if rng.random() < 0.08:
        return rng.choice(["，", "。", "\n", ", ", ". "])
    if rng.random() < 0.6:
        return "".join(rng.choices(_ZH_CHARS, k=rng.randint(1, 3)))
    return " " + rng.choice(_EN_WORDS)


def alpaca_like_pairs(count: int, seed: int, tokenizer) -> list[tuple[str, str]]:
    """Long-tailed lengths like Alpaca's: most prompts short, answers from a few words to 500+."""
    rng = random.Random(seed)
    sample = "".join(random_piece(rng) for _ in range(2000))
    tokens_per_piece = len(tokenizer(sample, add_special_tokens=False)["input_ids"]) / 2000

    def text(tokens: float) -> str:
        return "".join(random_piece(rng) for _ in range(max(1, round(tokens / tokens_per_piece))))

    pairs = []
    for _ in range(count):
        prompt_tokens = min(200, max(20, rng.lognormvariate(math.log(45), 0.6)))
        answer_tokens = min(700, max(3, rng.lognormvariate(math.log(130), 0.9)))
        pairs.append((text(prompt_tokens) + "\n\n", text(answer_tokens)))
    return pairs


# --- One pair at a time ---------------------------------------------------------------------


def cut_pair(tokenizer, prompt, answer, *, max_answer_tokens, max_length):
    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    answer_ids = tokenizer.encode(answer, add_special_tokens=False)
    answer_ids = answer_ids[: min(max_answer_tokens, max_length - 1)]
    room = max_length - 1 - len(answer_ids)
    return prompt_ids[max(0, len(prompt_ids) - room) :], answer_ids


def cherry_token_losses(logits: torch.Tensor, input_ids: torch.Tensor) -> list[float]:
    """Cherry LLM's per-token loop (get_perplexity_and_embedding_part_text)."""
    losses = []
    for i in range(1, input_ids.shape[1]):
        log_prob_dist = F.log_softmax(logits[0, i - 1], dim=-1)
        token_loss = F.nll_loss(log_prob_dist.unsqueeze(0), input_ids[0, i].unsqueeze(0))
        losses.append(token_loss.item())
    return losses


def one_at_a_time(model, tokenizer, pairs, *, max_answer_tokens, max_length, per_token_loop):
    """Per pair, two full forward passes with ``labels``; returns the IFDs."""
    start = start_token_id(tokenizer)
    device = next(model.parameters()).device
    ifds = []
    with torch.no_grad():
        for prompt, answer in pairs:
            prompt_ids, answer_ids = cut_pair(
                tokenizer,
                prompt,
                answer,
                max_answer_tokens=max_answer_tokens,
                max_length=max_length,
            )
            losses = []
            for context in ([start, *prompt_ids], [start]):
                input_ids = torch.tensor([[*context, *answer_ids]], device=device)
                labels = input_ids.clone()
                labels[0, : len(context)] = -100
                output = model(input_ids=input_ids, labels=labels)
                if per_token_loop:
                    cherry_token_losses(output.logits, input_ids)
                losses.append(output.loss.item())
            ifds.append(losses[0] / losses[1])
    return ifds


# --- Measuring ------------------------------------------------------------------------------


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, run: Callable[[], list]) -> tuple[list, float, float]:
    """The result, wall-clock seconds and CPU seconds (all threads of this process)."""
    synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    synchronize(device)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def slices(items: Sequence, rounds: int) -> list[Sequence]:
    size = math.ceil(len(items) / rounds)
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True)
class Workload:
    pairs: int
    real_tokens: int  # both sequences of every pair, unpadded
    padded_tokens: int  # as compute_ifd batches them
    scored_tokens: int  # answer tokens, each scored twice
    attention_square_sum: int  # sum of seq^2 over all sequences


def describe_workload(
    tokenized: TokenizedPairs, batches: list[list[int]] | None = None
) -> Workload:
    lengths = tokenized.sequence_lengths
    padded = sum(len(b) * int(lengths[b[0]]) for b in batches) if batches else int(lengths.sum())
    return Workload(
        pairs=len(tokenized),
        real_tokens=int(lengths.sum()),
        padded_tokens=padded,
        scored_tokens=int(2 * tokenized.answer_lengths.sum()),
        attention_square_sum=int((lengths**2).sum()),
    )


def non_embedding_params(model) -> int:
    excluded = {id(model.get_input_embeddings().weight), id(model.get_output_embeddings().weight)}
    return sum(p.numel() for p in model.parameters() if id(p) not in excluded)


def useful_flops(model, work: Workload) -> tuple[float, str]:
    """FLOPs the IFD definition needs (padding not counted), and the formula used."""
    config = model.config
    params = non_embedding_params(model)
    layers, hidden, vocab = config.num_hidden_layers, config.hidden_size, config.vocab_size
    body = 2 * params * work.real_tokens
    attention = 4 * layers * hidden * work.attention_square_sum / 2
    head = 2 * hidden * vocab * work.scored_tokens
    formula = (
        f"2 * {params:,} non-embedding params * {work.real_tokens:,} tokens"
        f" + 4 * {layers} layers * {hidden} hidden * sum(seq^2) {work.attention_square_sum:,} / 2"
        f" (causal) + 2 * {hidden} hidden * {vocab} vocab * {work.scored_tokens:,} scored tokens"
    )
    return body + attention + head, formula


def matmul_gflops(rows: int, inner: int, outer: int, *, seconds: float = 1.0) -> float:
    """This CPU's speed on the model's largest matmul with every core busy, one thread per
    core (as compute_ifd runs on a CPU): the most that the cores together can do."""
    threads = torch.get_num_threads()
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(rows, inner, generator=generator)
    weight = torch.randn(outer, inner, generator=generator)

    def loop() -> int:
        torch.set_num_threads(1)
        runs, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            F.linear(inputs, weight)
            runs += 1
        return runs

    F.linear(inputs, weight)  # warm-up
    with ThreadPoolExecutor(threads) as pool:
        started = time.perf_counter()
        runs = sum(pool.map(lambda _: loop(), range(threads)))
        elapsed = time.perf_counter() - started
    torch.set_num_threads(threads)
    return 2 * rows * inner * outer * runs / elapsed / 1e9


def print_cpu_ceiling(shape: Shape, token_budget: int, achieved: dict[str, float]) -> None:
    """How close each method comes to the CPU's matmul speed, the most any implementation
    of the same FLOPs could reach; its ratio bounds the possible speed-up."""
    rows = min(token_budget, 512)
    ceiling = matmul_gflops(rows, shape.hidden, shape.intermediate)
    shares = ", ".join(f"{name} {gflops / ceiling:.0%}" for name, gflops in achieved.items())
    print(
        f"CPU ceiling: [{rows}x{shape.hidden}]·[{shape.hidden}x{shape.intermediate}] "
        f"matmuls run at {ceiling:.0f} GFLOP/s on {torch.get_num_threads()} cores together; "
        f"counted FLOPs per second as a share of that: {shares}; so no implementation of "
        f"these FLOPs can beat the reference by more than "
        f"{ceiling / achieved['reference']:.2f}x here"
    )


def host_synchronizations(device: torch.device, run: Callable[[], object]) -> int | None:
    """How often ``run`` makes the host wait for the GPU (None off CUDA). Each wait leaves
    the GPU idle while the host builds and launches the next batch."""
    if device.type != "cuda":
        return None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            run()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(warning.message) for warning in caught)


def peak_tflops(device: torch.device, override: float | None) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    return peak_for_device_name(torch.cuda.get_device_name(device))


def peak_for_device_name(name: str) -> float | None:
    return next((peak for key, peak in PEAK_BF16_TFLOPS.items() if key in name), None)


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    dtype = {
        "auto": torch.bfloat16 if device.type == "cuda" else torch.float32,
        "float32": torch.float32,
        "bfloat16": torch.bfloat16,
        "float16": torch.float16,
    }[args.dtype]
    rounds = args.rounds or (1 if device.type == "cuda" else 4)
    token_budget = args.token_budget or default_token_budget(device)
    shape = SHAPES[args.shape]
    tokenizer = build_toy_tokenizer(None, with_bos=shape.arch == "llama", chat_template=False)
    vocab = args.vocab or shape.vocab or len(tokenizer)
    model = build_model(
        shape,
        vocab,
        max_positions=args.max_positions,
        device=device,
        dtype=dtype,
        tokenizer=tokenizer,
    )
    pairs = alpaca_like_pairs(args.pairs, args.seed, tokenizer)
    reference_pairs = pairs[: min(args.pairs, args.reference_pairs or 80)]
    max_length = model_max_length(model.config, tokenizer)
    cuts = dict(max_answer_tokens=args.max_answer_tokens, max_length=max_length)

    def planned(part: Sequence[tuple[str, str]]) -> tuple[TokenizedPairs, list[list[int]]]:
        """The tokens of ``part`` and the forward passes compute_ifd makes of them."""
        tokenized = tokenize_pairs(tokenizer, part, **cuts)
        lengths = tokenized.sequence_lengths.tolist()
        return tokenized, plan_batches(
            lengths, max_rows=2 * args.batch_size, token_budget=token_budget
        )

    tokenized, batches = planned(pairs)
    work = describe_workload(tokenized, batches)
    reference_work = describe_workload(tokenize_pairs(tokenizer, reference_pairs, **cuts))

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"device: {device} ({device_name}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads, dtype {str(dtype).removeprefix('torch.')}"
    )
    print(
        f"model: {args.shape} ({shape.arch}), hidden {shape.hidden}, {shape.layers} layers, "
        f"{shape.heads} heads ({shape.kv_heads} kv), vocab {vocab}, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f}M params, random weights"
    )
    prompts, answers = tokenized.prompt_lengths.float(), tokenized.answer_lengths.float()
    print(
        f"pairs: {work.pairs}; prompt tokens mean {prompts.mean():.0f} "
        f"(max {prompts.max():.0f}); answer tokens mean {answers.mean():.0f} "
        f"(max {answers.max():.0f}, {int((tokenized.answer_cut > 0).sum())} cut at "
        f"{args.max_answer_tokens})"
    )
    print(
        f"compute_ifd batching: batch size {args.batch_size} pairs, token budget {token_budget}: "
        f"{len(batches)} forward passes, {work.real_tokens / work.padded_tokens:.1%} of padded "
        f"tokens real"
    )

    def score_batched(part):
        return compute_ifd(
            model,
            tokenizer,
            part,
            batch_size=args.batch_size,
            token_budget=token_budget,
            cpu_workers=args.cpu_workers,
        )

    def reference(part, per_token_loop=False):
        return one_at_a_time(model, tokenizer, part, **cuts, per_token_loop=per_token_loop)

    methods: dict[str, tuple[Callable, Sequence]] = {
        "reference": (reference, reference_pairs),
        "compute_ifd": (score_batched, pairs),
    }
    if not args.skip_cherry:
        methods["cherry"] = (lambda part: reference(part, per_token_loop=True), reference_pairs)

    # Warm-up (allocator, kernels, the one-time backbone/head check) outside the timings.
    for run, _ in methods.values():
        run(pairs[:4])
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = dict.fromkeys(methods, 0.0)
    cpu_seconds = dict.fromkeys(methods, 0.0)
    outputs: dict[str, list] = {name: [] for name in methods}
    for turn in range(rounds):
        for name, (run, items) in methods.items():
            part = slices(items, rounds)
            if turn < len(part):
                result, elapsed, cpu = timed(device, lambda run=run, p=part[turn]: run(p))
                seconds[name] += elapsed
                cpu_seconds[name] += cpu
                outputs[name].extend(result)
    peak_memory = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None

    batched_ifd = [r.ifd for r in outputs["compute_ifd"]]
    rates = {name: len(items) / seconds[name] for name, (_, items) in methods.items()}
    for name, label, count, tokens in [
        (
            "reference",
            "reference (batch 1, 2 full passes/pair, per-sample loss)",
            len(reference_pairs),
            reference_work.real_tokens,
        ),
        (
            "cherry",
            "Cherry LLM as published (+ per-token loop)",
            len(reference_pairs),
            reference_work.real_tokens,
        ),
        ("compute_ifd", "compute_ifd", len(pairs), work.real_tokens),
    ]:
        if name in seconds:
            print(
                f"{label}: {count} pairs in {seconds[name]:.2f} s = {rates[name]:.2f} pairs/s, "
                f"{tokens / seconds[name]:,.0f} tokens/s "
                f"(CPU time {cpu_seconds[name]:.2f} s, {count / cpu_seconds[name]:.2f} pairs/CPU-s)"
            )
    delta = max(abs(a - b) for a, b in zip(batched_ifd, outputs["reference"], strict=False))
    cpu_ratio = (len(pairs) / cpu_seconds["compute_ifd"]) / (
        len(reference_pairs) / cpu_seconds["reference"]
    )
    print(
        f"speed-up of compute_ifd: {rates['compute_ifd'] / rates['reference']:.2f}x vs reference"
        f" ({cpu_ratio:.2f}x in CPU time)"
        + (
            f", {rates['compute_ifd'] / rates['cherry']:.2f}x vs Cherry as published"
            if "cherry" in rates
            else ""
        )
        + f"; max |delta ifd| vs reference over {len(outputs['reference'])} pairs: {delta:.2e}"
    )

    flops, formula = useful_flops(model, work)
    achieved = flops / seconds["compute_ifd"] / 1e12
    print(f"FLOPs counted: {formula} = {flops / 1e12:.3f} TFLOP")
    peak = peak_tflops(device, args.peak_tflops)
    mfu = f", MFU {achieved / peak:.1%} of {peak:.0f} TFLOP/s dense bf16 peak" if peak else ""
    print(f"compute_ifd achieved: {achieved:.3f} TFLOP/s{mfu}")
    if device.type == "cpu":
        reference_flops, _ = useful_flops(model, reference_work)
        print_cpu_ceiling(
            shape,
            token_budget,
            {
                "compute_ifd": achieved * 1e3,
                "reference": reference_flops / seconds["reference"] / 1e9,
            },
        )
    if peak_memory is not None:
        print(f"peak GPU memory: {peak_memory / 2**30:.2f} GiB")
        sample = pairs[:256]
        waits = host_synchronizations(device, lambda: score_batched(sample))
        _, sample_batches = planned(sample)
        print(
            f"host waits for the GPU in compute_ifd on {len(sample)} pairs "
            f"({len(sample_batches)} forward passes): {waits}"
        )
    print(
        f"projected for Alpaca-52k ({ALPACA_PAIRS} pairs, this length mix): "
        f"{ALPACA_PAIRS / rates['compute_ifd'] / 60:.1f} min with compute_ifd, "
        f"{ALPACA_PAIRS / rates['reference'] / 60:.1f} min with the reference"
    )


if __name__ == "__main__":
    main()
