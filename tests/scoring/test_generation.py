"""Local generation: tiny random-weight models built here, loaded through ``get_generator``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scoring.backends import load_causal_lm
from scoring.generation import (
    GenerationError,
    GenerationRequest,
    Generator,
    GeneratorConfigError,
    clear_generator_caches,
    get_generator,
    run_setting_aside,
)
from scoring.local_lm import LocalChatGenerator, batches_by_length
from scoring.seq2seq import Seq2SeqGenerator
from scoring.toy import build_toy_model, build_toy_seq2seq

PROMPTS = [
    "请解释一下什么是价值观对齐。",
    "hello",
    "社会需要公平正义，保护弱势群体的合法权益。国家安全是民族复兴的根基。",
    "x",
    "Explain why honesty matters in everyday life.",
    "如何在网络上保护自己的隐私？",
    "The quick brown fox jumps over the lazy dog. " * 3,
]


@pytest.fixture(scope="module")
def chat_model_path(tmp_path_factory) -> str:
    return str(build_toy_model(tmp_path_factory.mktemp("gen") / "chat", seed=11))


@pytest.fixture(scope="module")
def marian_path(tmp_path_factory) -> str:
    return str(build_toy_seq2seq(tmp_path_factory.mktemp("gen") / "marian", seed=12))


def requests_for(prompts: list[str], max_new_tokens: int = 24) -> list[GenerationRequest]:
    return [GenerationRequest.user(p, max_new_tokens=max_new_tokens) for p in prompts]


def evolve_generator(path: str, **options) -> Generator:
    return get_generator(
        path, purpose="evolve", setting="VAD_EVOLVE_MODEL", device="cpu", **options
    )


def test_chat_model_batched_greedy_texts_equal_one_at_a_time(chat_model_path):
    batched = evolve_generator(chat_model_path, batch_size=4)
    assert isinstance(batched, LocalChatGenerator)
    assert batched.is_chat and batched.name == chat_model_path
    # Different max_new_tokens in one call: sorting and batching must still give each its own.
    requests = [
        GenerationRequest.user(prompt, max_new_tokens=8 + 4 * (i % 3))
        for i, prompt in enumerate(PROMPTS)
    ]
    together = batched.generate(requests)
    alone = LocalChatGenerator(batched.loaded, batch_size=1)
    assert together == [alone.generate([request])[0] for request in requests]
    assert len(set(together)) == len(together), "outputs should depend on the prompt"
    assert all(text for text in together)


def test_same_requests_and_seed_give_the_same_texts(chat_model_path):
    generator = evolve_generator(chat_model_path, batch_size=3)
    assert generator.generate(requests_for(PROMPTS), seed=5) == generator.generate(
        requests_for(PROMPTS), seed=5
    )
    sampling = LocalChatGenerator(generator.loaded, batch_size=3, temperature=1.0)
    first = sampling.generate(requests_for(PROMPTS), seed=5)
    assert first == sampling.generate(requests_for(PROMPTS), seed=5)
    assert first != sampling.generate(requests_for(PROMPTS), seed=6)


def test_max_new_tokens_cuts_the_greedy_answer(chat_model_path):
    generator = evolve_generator(chat_model_path)
    short, long = generator.generate_tokens(
        [
            GenerationRequest.user(PROMPTS[0], max_new_tokens=3),
            GenerationRequest.user(PROMPTS[0], max_new_tokens=30),
        ]
    )
    assert len(short) == 3
    assert len(long) > 3
    assert long[:3] == short


def test_min_new_tokens_fills_every_row(chat_model_path):
    loaded = load_causal_lm(chat_model_path, device="cpu")
    generator = LocalChatGenerator(loaded, batch_size=4, min_new_tokens=16)
    answers = generator.generate_tokens(requests_for(PROMPTS[:4], max_new_tokens=16))
    assert [len(answer) for answer in answers] == [16] * 4


def test_prompts_are_rendered_with_the_chat_template(chat_model_path):
    generator = evolve_generator(chat_model_path)
    request = GenerationRequest.user("你好", system="你是一个助手。")
    text = generator.loaded.tokenizer.decode(generator.render(request))
    assert text == "<s><|system|>\n你是一个助手。</s>\n<|user|>\n你好</s>\n<|assistant|>\n"


def test_a_template_with_a_thinking_mode_is_rendered_without_it(tmp_path):
    path = build_toy_model(tmp_path / "thinking", seed=4)
    # Qwen3's shape: an empty thinking block opens the answer when thinking is off.
    template = (
        "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
        "<|assistant|>\n{% if enable_thinking is defined and not enable_thinking %}"
        "<think>\n\n</think>\n\n{% else %}<think>\n{% endif %}"
    )
    load_causal_lm(str(path), device="cpu").tokenizer.chat_template = template  # the cached one
    generator = evolve_generator(str(path))
    text = generator.loaded.tokenizer.decode(generator.render(GenerationRequest.user("你好")))
    assert text.endswith("<|assistant|>\n<think>\n\n</think>\n\n")


def test_models_are_loaded_once_per_process(chat_model_path, marian_path):
    first = evolve_generator(chat_model_path)
    second = get_generator(
        chat_model_path, purpose="translate", setting="VAD_TRANSLATE_MODEL", device="cpu"
    )
    assert first.loaded is second.loaded
    assert first.loaded is load_causal_lm(chat_model_path, device="cpu")
    translate = {"purpose": "translate", "setting": "VAD_TRANSLATE_MODEL", "device": "cpu"}
    assert (
        get_generator(marian_path, **translate).loaded
        is get_generator(marian_path, **translate).loaded
    )


def test_a_prompt_longer_than_the_model_takes_is_an_error(tmp_path):
    path = build_toy_model(tmp_path / "short", max_position_embeddings=32, seed=3)
    generator = evolve_generator(str(path))
    with pytest.raises(GenerationError, match=r"request 1: the prompt has .* tokens") as caught:
        generator.generate(requests_for(["hi", "个人应当诚实守信，尊重他人，遵守法律。" * 3]))
    assert caught.value.index == 1


def test_seq2seq_translates_in_batches_like_one_at_a_time(marian_path):
    generator = get_generator(
        marian_path,
        purpose="translate",
        setting="VAD_TRANSLATE_MODEL",
        device="cpu",
        batch_size=3,
    )
    assert isinstance(generator, Seq2SeqGenerator)
    assert not generator.is_chat
    requests = requests_for(PROMPTS, max_new_tokens=12)
    together = generator.generate(requests)
    alone = Seq2SeqGenerator(generator.loaded, batch_size=1)
    assert together == [alone.generate([request])[0] for request in requests]
    assert len(set(together)) > 1, "outputs should depend on the source"
    # The source is the last user message; a system message is ignored.
    [with_system] = generator.generate(
        [GenerationRequest.user(PROMPTS[0], system="Translate.", max_new_tokens=12)]
    )
    assert with_system == together[0]


def test_seq2seq_sources_longer_than_the_model_are_cut_not_refused(marian_path):
    generator = get_generator(
        marian_path, purpose="translate", setting="VAD_TRANSLATE_MODEL", device="cpu"
    )
    long_source = "The quick brown fox jumps over the lazy dog. " * 80
    assert len(generator.encode(GenerationRequest.user(long_source))) == generator.max_length
    [text] = generator.generate([GenerationRequest.user(long_source, max_new_tokens=5)])
    assert text


def test_a_seq2seq_model_for_evolution_is_refused_naming_the_setting(marian_path):
    with pytest.raises(GeneratorConfigError, match=r"VAD_EVOLVE_MODEL=.*sequence-to-sequence"):
        get_generator(marian_path, purpose="evolve", setting="VAD_EVOLVE_MODEL", device="cpu")
    # Also when it is served: a local folder's config still says what it is.
    with pytest.raises(GeneratorConfigError, match=r"VAD_EVOLVE_MODEL"):
        get_generator(
            marian_path,
            purpose="evolve",
            setting="VAD_EVOLVE_MODEL",
            base_url="http://127.0.0.1:9/v1",
        )


@pytest.mark.parametrize(
    ("purpose", "setting"),
    [("translate", "VAD_TRANSLATE_MODEL"), ("evolve", "VAD_EVOLVE_MODEL")],
)
@pytest.mark.parametrize("model", ["", "   "])
def test_no_model_configured_is_a_config_error_naming_the_setting(purpose, setting, model):
    with pytest.raises(GeneratorConfigError, match=f"^{setting} is not set"):
        get_generator(model, purpose=purpose, setting=setting)


def test_a_model_that_cannot_be_loaded_is_a_config_error_naming_the_setting(tmp_path):
    with pytest.raises(GeneratorConfigError, match=r"VAD_TRANSLATE_MODEL='.*missing'"):
        get_generator(str(tmp_path / "missing"), purpose="translate", setting="VAD_TRANSLATE_MODEL")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    with pytest.raises(GeneratorConfigError, match=r"VAD_EVOLVE_MODEL="):
        get_generator(str(broken), purpose="evolve", setting="VAD_EVOLVE_MODEL")


def test_a_chat_model_without_a_chat_template_is_refused(tmp_path):
    path = build_toy_model(tmp_path / "base", chat_template=False)
    with pytest.raises(GeneratorConfigError, match=r"VAD_EVOLVE_MODEL=.*no chat template"):
        evolve_generator(str(path))


def test_an_unavailable_device_names_vad_device(chat_model_path):
    with pytest.raises(GeneratorConfigError, match=r"^VAD_DEVICE"):
        get_generator(chat_model_path, purpose="evolve", setting="X", device="tpu")


@pytest.mark.parametrize(
    ("messages", "max_new_tokens", "message"),
    [
        ([], 5, "at least one message"),
        ([{"role": "robot", "content": "x"}], 5, "role 'robot'"),
        ([{"role": "user"}], 5, "string 'content'"),
        ([{"role": "user", "content": "x"}], 0, "max_new_tokens"),
    ],
)
def test_malformed_requests_are_refused(messages, max_new_tokens, message):
    with pytest.raises(ValueError, match=message):
        GenerationRequest(messages=messages, max_new_tokens=max_new_tokens)


def test_a_translation_request_without_a_user_message_names_its_index(marian_path):
    generator = get_generator(
        marian_path, purpose="translate", setting="VAD_TRANSLATE_MODEL", device="cpu"
    )
    requests = [
        GenerationRequest.user("hello"),
        GenerationRequest(messages=[{"role": "system", "content": "only this"}]),
    ]
    with pytest.raises(GenerationError, match=r"request 1: .* needs a user message") as caught:
        generator.generate(requests)
    assert caught.value.index == 1


def test_generators_are_generators(chat_model_path, marian_path):
    assert isinstance(evolve_generator(chat_model_path), Generator)
    translator = get_generator(
        marian_path, purpose="translate", setting="VAD_TRANSLATE_MODEL", device="cpu"
    )
    assert isinstance(translator, Generator)
    assert Path(translator.name) == Path(marian_path)


def test_batches_group_similar_lengths_within_the_size_and_token_budget():
    prompts = [[1] * n for n in (50, 5, 7, 48, 6, 200, 8)]
    limits = [10] * len(prompts)
    assert list(batches_by_length(prompts, limits, 3)) == [[1, 4, 2], [6, 3, 0], [5]]
    # 3 rows of (8 + 10) fit in 60 tokens; (48 + 10) fits once; 210 alone is over the budget
    # but a row always gets a batch.
    assert list(batches_by_length(prompts, limits, 8, token_budget=60)) == [
        [1, 4, 2],
        [6],
        [3],
        [0],
        [5],
    ]
    # Requests are grouped by their new-token limit first.
    assert list(batches_by_length([[1] * 5, [1] * 5, [1] * 6], [30, 10, 10], 2)) == [[1, 2], [0]]


def test_a_token_budget_or_a_dynamic_cache_changes_the_speed_not_the_texts(chat_model_path):
    plain = evolve_generator(chat_model_path, batch_size=8)
    assert plain.cache_implementation == "static"
    budgeted = LocalChatGenerator(plain.loaded, batch_size=8, token_budget=120)
    dynamic = LocalChatGenerator(plain.loaded, batch_size=8, cache_implementation=None)
    requests = requests_for(PROMPTS, max_new_tokens=10)
    expected = plain.generate(requests)
    assert budgeted.generate(requests) == expected
    assert dynamic.generate(requests) == expected


@pytest.mark.parametrize("language_token", [">>cmn_Hans<<", "zho_Hans"])
def test_multilingual_translation_models_are_told_the_target_is_chinese(tmp_path, language_token):
    path = str(build_toy_seq2seq(tmp_path / "multi", language_tokens=(language_token,)))
    generator = get_generator(
        path, purpose="translate", setting="VAD_TRANSLATE_MODEL", device="cpu"
    )
    token_id = generator.loaded.tokenizer.convert_tokens_to_ids(language_token)
    source = generator.encode(GenerationRequest.user("hello world"))
    [raw] = generator._generate_batch([source], 4, seed=0)
    if language_token.startswith(">>"):  # Marian: a prefix of the source
        assert source[0] == token_id
        assert generator.forced_bos_token_id is None
    else:  # NLLB: the first target token, forced, then stripped from the text
        assert token_id not in source
        assert raw[1] == token_id
        assert token_id not in generator._strip_start(raw)
    assert generator.generate([GenerationRequest.user("hello world", max_new_tokens=4)])[0]


def test_nothing_to_generate_gives_nothing(chat_model_path, marian_path):
    translate = {"purpose": "translate", "setting": "VAD_TRANSLATE_MODEL", "device": "cpu"}
    assert evolve_generator(chat_model_path).generate([]) == []
    assert get_generator(marian_path, **translate).generate([]) == []


def test_clearing_the_caches_loads_the_model_again(chat_model_path):
    first = evolve_generator(chat_model_path)
    clear_generator_caches()
    assert evolve_generator(chat_model_path).loaded is not first.loaded


# --- run_setting_aside -------------------------------------------------------------------------


def _refusing(*refused: str, calls: list | None = None):
    """A run over WORDS that fails on a refused word, blaming its place in the list given."""

    def run(positions: list[int]) -> list[str]:
        if calls is not None:
            calls.append(list(positions))
        for place, position in enumerate(positions):
            if WORDS[position] in refused:
                raise GenerationError(f"{WORDS[position]} is too long", index=place)
        return [WORDS[p].upper() for p in positions]

    return run


WORDS = ["alpha", "beta", "gamma", "delta", "epsilon"]


def test_a_request_refused_on_its_own_is_set_aside_and_the_rest_run_again():
    calls: list = []
    outputs, failed = run_setting_aside(_refusing("beta", "delta", calls=calls), len(WORDS), most=2)
    assert outputs == {0: "ALPHA", 2: "GAMMA", 4: "EPSILON"}
    assert failed == {1: "beta is too long", 3: "delta is too long"}
    assert calls == [[0, 1, 2, 3, 4], [0, 2, 3, 4], [0, 2, 4]]


def test_more_refusals_than_allowed_raise_the_error():
    with pytest.raises(GenerationError, match="delta is too long"):
        run_setting_aside(_refusing("beta", "delta"), len(WORDS), most=1)


def test_an_error_that_blames_no_request_is_raised_at_once():
    calls: list = []

    def down(positions):
        calls.append(positions)
        raise GenerationError("cannot reach the server")

    with pytest.raises(GenerationError, match="cannot reach"):
        run_setting_aside(down, 3, most=3)
    assert len(calls) == 1


def test_nothing_to_run_runs_nothing():
    assert run_setting_aside(_refusing(), 0, most=1) == ({}, {})


def test_a_translation_request_the_model_cannot_take_blames_its_text(tmp_path):
    """The empty text is not sent, so the request at fault (1) is text 2: the error says 2."""
    from scoring.translation import translate_texts

    path = build_toy_model(tmp_path / "short", max_position_embeddings=256, seed=3)
    generator = get_generator(
        str(path), purpose="translate", setting="VAD_TRANSLATE_MODEL", device="cpu"
    )
    texts = ["Be honest.", "", "Respect others and keep the law. " * 8, "Thanks."]
    with pytest.raises(GenerationError, match=r"the prompt has .* tokens") as caught:
        translate_texts(generator, texts, max_new_tokens=4)
    assert caught.value.index == 2
