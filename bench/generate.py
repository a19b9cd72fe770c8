"""Benchmark: batched generation against one prompt at a time, same model, same prompts.

    python bench/generate.py --threads 1              # CPU: hidden 256, 4 layers, 32k vocab
    python bench/generate.py --device cuda            # GPU: tokens/s of the local backend
    python bench/generate.py --device cuda --shape qwen2.5-0.5b --prompts 256 --batch-size 128

Both methods are ``scoring.local_lm.LocalChatGenerator`` (the backend the translation and
evolution jobs use): chat-template prompts, greedy decoding, ``min_new_tokens =
max_new_tokens`` so every answer has the same length and only the batching differs. The
one-at-a-time run calls ``generate`` once per prompt with ``batch_size=1``.

On a CPU shared with other work, ``--threads 1``: with more torch threads than the cores
this process actually gets, threads spin waiting for each other (2 threads on 2 busy cores
made both runs 5-10x slower here).

The model has random weights and the toy byte-level tokenizer (ids below 1024 even when the
vocabulary is larger), so only the timings mean anything. Only torch, transformers and
``scoring`` are imported: this runs on a bare GPU box.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script

from scoring.backends import LoadedModel, resolve_device
from scoring.generation import GenerationRequest
from scoring.local_lm import LocalChatGenerator
from scoring.toy import build_toy_tokenizer


@dataclass(frozen=True)
class Shape:
    arch: str
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied: bool


SHAPES = {
    # The benchmark model: a random-weight Llama, hidden 256, 4 layers, 32k vocabulary.
    "small": Shape("llama", 256, 4, 4, 4, 688, 32_000, False),
    "qwen2.5-0.5b": Shape("qwen2", 896, 24, 14, 2, 4864, 151_936, True),
}

_ZH = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过"
_EN = ["the", "of", "and", "to", "in", "is", "that", "for", "it", "value", "honesty", "society"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, auto")
    parser.add_argument("--shape", choices=sorted(SHAPES), default="small")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64, help="min = max new tokens")
    parser.add_argument(
        "--batch-size", type=int, default=16, help="default: VAD_GENERATION_BATCH_SIZE's"
    )
    parser.add_argument("--token-budget", type=int, default=None, help="padded tokens per batch")
    parser.add_argument(
        "--cache", choices=["static", "dynamic"], default="static", help="KV cache (both runs)"
    )
    parser.add_argument(
        "--single-prompts",
        type=int,
        default=None,
        help="prompts the one-at-a-time run takes (default: all; its rate is per item)",
    )
    parser.add_argument("--skip-single", action="store_true", help="batched run only")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


def build_loaded(shape: Shape, device: torch.device) -> LoadedModel:
    """The model as ``load_causal_lm`` would give it: SDPA, bf16 on CUDA, float32 on the CPU."""
    tokenizer = build_toy_tokenizer()
    config_class, model_class = {
        "llama": (LlamaConfig, LlamaForCausalLM),
        "qwen2": (Qwen2Config, Qwen2ForCausalLM),
    }[shape.arch]
    config = config_class(
        vocab_size=shape.vocab,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        max_position_embeddings=4096,
        tie_word_embeddings=shape.tied,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        attn_implementation="sdpa",
    )
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = model_class(config)
    model = model.to(dtype).eval()
    return LoadedModel(
        model=model, tokenizer=tokenizer, device=device, dtype=dtype, name=f"random-{shape.arch}"
    )


def make_requests(count: int, new_tokens: int, seed: int) -> list[GenerationRequest]:
    """Prompts of 10 to ~150 characters, Chinese and English mixed, lengths long-tailed."""
    rng = random.Random(seed)
    requests = []
    for _ in range(count):
        pieces = max(3, round(rng.lognormvariate(math.log(25), 0.6)))
        text = "".join(
            "".join(rng.choices(_ZH, k=rng.randint(1, 3)))
            if rng.random() < 0.6
            else " " + rng.choice(_EN)
            for _ in range(min(pieces, 150))
        )
        requests.append(GenerationRequest.user(text, max_new_tokens=new_tokens))
    return requests


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(generator: LocalChatGenerator, batches: list[list[GenerationRequest]], device):
    """Answers, wall seconds and this process's CPU seconds (all threads).

    On a shared CPU the wall time counts other people's work too; CPU seconds (best with
    ``--threads 1``, where no thread spins waiting for another) count only ours.
    """
    synchronize(device)
    started, cpu_started = time.perf_counter(), time.process_time()
    answers = [answer for batch in batches for answer in generator.generate_tokens(batch)]
    synchronize(device)
    return answers, time.perf_counter() - started, time.process_time() - cpu_started


def main() -> None:
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        device = resolve_device(args.device)
    except ValueError as error:
        sys.exit(f"bench/generate.py: {error}")
    shape = SHAPES[args.shape]
    loaded = build_loaded(shape, device)
    cache = None if args.cache == "dynamic" else args.cache
    requests = make_requests(args.prompts, args.new_tokens, args.seed)
    batched = LocalChatGenerator(
        loaded,
        batch_size=args.batch_size,
        min_new_tokens=args.new_tokens,
        token_budget=args.token_budget,
        cache_implementation=cache,
    )
    single = LocalChatGenerator(
        loaded, batch_size=1, min_new_tokens=args.new_tokens, cache_implementation=cache
    )
    prompt_lengths = [len(batched.render(r)) for r in requests]
    parameters = sum(p.numel() for p in loaded.model.parameters())

    print(f"device: {device} ({_device_name(device)}), torch threads {torch.get_num_threads()}")
    print(
        f"model: random {shape.arch}, hidden {shape.hidden}, {shape.layers} layers, vocabulary "
        f"{shape.vocab}, {parameters / 1e6:.1f}M parameters, {loaded.dtype}"
    )
    print(
        f"prompts: {len(requests)}, {min(prompt_lengths)}-{max(prompt_lengths)} tokens "
        f"(mean {sum(prompt_lengths) / len(prompt_lengths):.0f}), "
        f"min_new_tokens = max_new_tokens = {args.new_tokens}, greedy"
    )
    # Warm-up: the first generate() pays one-off costs (kernels, allocator) for both methods.
    batched.generate_tokens(requests[: min(4, len(requests))])

    answers, seconds, cpu = timed(batched, [requests], device)
    assert all(len(a) == args.new_tokens for a in answers), "an answer stopped early"
    tokens = sum(len(a) for a in answers)
    batched_rate = len(requests) / seconds
    print(
        f"batched (batch size {args.batch_size}, token budget {args.token_budget}, {args.cache} "
        f"cache): {seconds:.2f} s = {batched_rate:.2f} items/s, {tokens / seconds:.0f} new "
        f"tokens/s; CPU {cpu:.2f} s"
    )
    if args.skip_single:
        return
    count = min(args.single_prompts or len(requests), len(requests))
    single_answers, single_seconds, single_cpu = timed(
        single, [[r] for r in requests[:count]], device
    )
    single_tokens = sum(len(a) for a in single_answers)
    single_rate = count / single_seconds
    print(
        f"one at a time: {single_seconds:.2f} s for {count} = {single_rate:.2f} items/s, "
        f"{single_tokens / single_seconds:.0f} new tokens/s; CPU {single_cpu:.2f} s"
    )
    print(f"ratio batched / one at a time: {batched_rate / single_rate:.2f}x (wall)")
    if device.type == "cpu":
        cpu_ratio = (single_cpu / count) / (cpu / len(requests))
        print(f"ratio batched / one at a time: {cpu_ratio:.2f}x (CPU seconds per item)")
    same = sum(a == b for a, b in zip(answers[:count], single_answers, strict=True))
    print(f"identical greedy answers, batched vs one at a time: {same}/{count}")


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "CPU"


if __name__ == "__main__":
    main()
