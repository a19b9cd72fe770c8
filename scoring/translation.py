"""English → Simplified Chinese translation: segmentation, prompts, normalisation and checks.

Plain Python (no Django). A seq2seq translation model (MarianMT, NLLB) silently drops what
lies past its maximum length, so a long text is cut into sentences first: every line keeps
its indentation and list marker ("1. ", "- ", "* "), every sentence is translated on its own
and the pieces are put back in place. A chat model gets the whole text in one prompt
(`TRANSLATION_PROMPT`). Either way the result goes through OpenCC (`t2s`), so a model that
answers in Traditional characters still yields Simplified Chinese. `translation_flags` names
what a reviewer should look at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

TRANSLATION_PROMPT_NAME = "zh-translate-v1"
TRANSLATION_PROMPT = (
    "请把下面的英文翻译成简体中文。要求：忠实、通顺，不增不减；保留原文的段落、换行、"
    "列表编号和格式；人名、机构名等专有名词可保留原文；只输出译文，不要解释，不要加标题。\n\n"
    "{text}"
)
SEQ2SEQ_PROMPT_NAME = "seq2seq-sentences"

FLAG_LENGTH_RATIO = "translation_length_ratio"
FLAG_REPETITION = "translation_repetition"
FLAG_UNTRANSLATED_LATIN = "translation_untranslated_latin"
FLAG_EMPTY = "translation_empty"
# The model could not translate the item (one request refused, e.g. longer than its context).
FLAG_FAILED = "translation_failed"
TRANSLATION_FLAGS = (
    FLAG_LENGTH_RATIO,
    FLAG_REPETITION,
    FLAG_UNTRANSLATED_LATIN,
    FLAG_EMPTY,
    FLAG_FAILED,
)

# Sentences longer than this (characters) are cut again at clause boundaries, then spaces.
MAX_SEGMENT_CHARS = 400

# A line: indentation, an optional list marker, the text, trailing spaces.
_LINE = re.compile(
    r"^(?P<lead>[ \t]*(?:(?:[-*+•]|\d{1,3}[.)]|[a-zA-Z][.)]|\(\d{1,3}\))[ \t]+)?)"
    r"(?P<body>.*?)(?P<trail>[ \t]*)$"
)
# A sentence ends at . ! ? (and closing quotes or brackets) followed by spaces and the start
# of a new sentence; common abbreviations and single initials do not end one.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*(?P<gap>\s+)(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS_TEXT = (
    "mr mrs ms dr prof sr jr st vs etc e.g i.e u.s u.k no fig inc ltd co corp dept approx "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
)
_ABBREVIATIONS = frozenset(_ABBREVIATIONS_TEXT.split())


@dataclass(frozen=True)
class SegmentedText:
    """A text cut into sentences to translate one by one, and the glue between them.

    `pieces` alternates glue (str, copied as is: line breaks, indentation, list markers,
    spaces) and sentence indexes (int) into `sentences`.
    """

    pieces: tuple[str | int, ...]
    sentences: tuple[str, ...]

    def rejoin(self, translations: Sequence[str]) -> str:
        """Put translated sentences back; a space between two Chinese sentences is dropped."""
        if len(translations) != len(self.sentences):
            raise ValueError(f"{len(self.sentences)} sentences but {len(translations)} given")
        out: list[str] = []
        previous: str | None = None
        for n, piece in enumerate(self.pieces):
            if isinstance(piece, int):
                out.append(translations[piece])
                previous = translations[piece]
                continue
            following = self.pieces[n + 1] if n + 1 < len(self.pieces) else None
            inline_gap = piece.strip(" \t") == "" and piece != "" and "\n" not in piece
            if (
                inline_gap
                and isinstance(following, int)
                and previous is not None
                and _ends_in_cjk(previous)
            ):
                continue  # Chinese puts no space between sentences
            out.append(piece)
        return "".join(out)


def _ends_in_cjk(text: str) -> bool:
    text = text.rstrip()
    return bool(text) and (_is_cjk(text[-1]) or text[-1] in "。！？；：，、”’）》」』")


def _is_cjk(char: str) -> bool:
    return "\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"


def segment_text(text: str, *, max_chars: int = MAX_SEGMENT_CHARS) -> SegmentedText:
    """Cut `text` into sentences, keeping lines, list markers and spacing as glue.

    `segment_text(t).rejoin(segment_text(t).sentences) == t` for every English text: nothing
    is dropped.
    """
    pieces: list[str | int] = []
    sentences: list[str] = []
    glue: list[str] = []

    def add_sentence(sentence: str) -> None:
        pieces.append("".join(glue))
        glue.clear()
        pieces.append(len(sentences))
        sentences.append(sentence)

    lines = text.split("\n")
    for n, line in enumerate(lines):
        match = _LINE.match(line)
        assert match is not None  # the pattern matches every line
        glue.append(match["lead"])
        body = match["body"]
        if body.strip():
            parts = _split_sentences(body)
            for sentence, gap in parts:
                for chunk, chunk_gap in _split_long(sentence, max_chars=max_chars):
                    add_sentence(chunk)
                    glue.append(chunk_gap)
                glue.append(gap)
        else:
            glue.append(body)
        glue.append(match["trail"])
        if n < len(lines) - 1:
            glue.append("\n")
    pieces.append("".join(glue))
    return SegmentedText(pieces=tuple(pieces), sentences=tuple(sentences))


def _split_sentences(body: str) -> list[tuple[str, str]]:
    """(sentence, the whitespace after it) pairs that concatenate back to `body`."""
    parts: list[tuple[str, str]] = []
    start = 0
    for match in _SENTENCE_END.finditer(body):
        candidate = body[start : match.start("gap")]
        last_word = candidate.rsplit(None, 1)[-1].rstrip(".!?\"'”’)]").lower() if candidate else ""
        if last_word in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha()):
            continue
        parts.append((candidate, match["gap"]))
        start = match.end("gap")
    parts.append((body[start:], ""))
    return parts


def _split_long(sentence: str, *, max_chars: int) -> list[tuple[str, str]]:
    """Cut an overlong sentence at clause breaks, else at spaces: (chunk, gap after it)."""
    if len(sentence) <= max_chars:
        return [(sentence, "")]
    tokens = re.split(r"(\s+)", sentence)  # word, gap, word, gap, ..., word
    out: list[tuple[str, str]] = []
    current, pending_gap = "", ""
    for n in range(0, len(tokens), 2):
        word, gap = tokens[n], tokens[n + 1] if n + 1 < len(tokens) else ""
        if current and len(current) + len(pending_gap) + len(word) > max_chars:
            out.append((current, pending_gap))
            current = word
        else:
            current = current + pending_gap + word
        pending_gap = gap
        if gap and word.endswith((",", ";", ":")) and len(current) >= max_chars // 2:
            out.append((current, gap))
            current, pending_gap = "", ""
    if current:
        out.append((current, pending_gap))
    return out


def translation_messages(text: str) -> list[dict[str, str]]:
    """The chat messages that ask a chat model for the translation of `text`."""
    return [{"role": "user", "content": TRANSLATION_PROMPT.format(text=text)}]


def seq2seq_messages(sentence: str) -> list[dict[str, str]]:
    """A seq2seq model takes the source sentence itself as its one user message."""
    return [{"role": "user", "content": sentence}]


_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)
_LABEL = re.compile(r"^\s*(?:译文|翻译|中文翻译|以下是译文|以下是翻译)\s*[:：]\s*")


def clean_chat_translation(text: str) -> str:
    """Drop a reasoning block and a leading "译文：" label a chat model may add."""
    return _LABEL.sub("", _THINK.sub("", text)).strip()


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional → Simplified Chinese with OpenCC (other text passes through unchanged)."""
    return _converter().convert(text)


# ---- checks ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TranslationThresholds:
    """When a translation is flagged (settings VAD_TRANSLATION_*, see the README).

    - length ratio: characters of the translation per character of the English (spaces not
      counted) outside [min_length_ratio, max_length_ratio], for sources of at least
      `min_source_chars`; Chinese usually runs at 0.25–0.6.
    - repetition: a phrase of 2–30 characters repeated `max_repeats` times or more in a row,
      or fewer than `min_distinct_ngrams` of the 4-character sequences distinct (texts with
      at least 40 of them).
    - untranslated Latin: a run of `max_latin_words` or more Latin-letter words (URLs and
      `code` left out).
    """

    min_length_ratio: float = 0.15
    max_length_ratio: float = 1.0
    min_source_chars: int = 20
    max_repeats: int = 4
    min_distinct_ngrams: float = 0.4
    max_latin_words: int = 6


_URL_OR_CODE = re.compile(r"https?://\S+|www\.\S+|`[^`]*`|\S+@\S+\.\w+", re.IGNORECASE)
_LATIN_RUN_WORD = r"[A-Za-z][A-Za-z'’-]*"
_SPACES = re.compile(r"\s+")


def length_ratio(source: str, translation: str) -> float | None:
    """Non-space characters of the translation per non-space character of the source."""
    src = len(_SPACES.sub("", source))
    return None if src == 0 else len(_SPACES.sub("", translation)) / src


def has_repetition(text: str, *, max_repeats: int, min_distinct_ngrams: float) -> bool:
    compact = _SPACES.sub("", text)
    unit = r"(?P<unit>[^\W_](?:.{1,29}?))"
    looping = unit + "(?:(?P=unit)){" + str(max_repeats - 1) + ",}"
    if re.search(looping, compact, re.DOTALL):
        return True
    grams = [compact[i : i + 4] for i in range(len(compact) - 3)]
    return len(grams) >= 40 and len(set(grams)) / len(grams) < min_distinct_ngrams


def longest_latin_run(text: str) -> int:
    """The most Latin-letter words in a row (separated by spaces or ASCII punctuation)."""
    text = _URL_OR_CODE.sub(" ", text)
    longest = 0
    run = re.compile(rf"{_LATIN_RUN_WORD}(?:[\s,.;:!?()\"]+{_LATIN_RUN_WORD})*")
    for match in run.finditer(text):
        longest = max(longest, len(re.findall(_LATIN_RUN_WORD, match.group())))
    return longest


def translation_flags(
    source: str, translation: str, *, thresholds: TranslationThresholds
) -> tuple[list[str], dict[str, float | int | None]]:
    """The flags one translated field earns, and the measures behind them."""
    if not translation.strip():
        return ([FLAG_EMPTY] if source.strip() else []), {}
    flags: list[str] = []
    ratio = length_ratio(source, translation)
    latin = longest_latin_run(translation)
    source_chars = len(_SPACES.sub("", source))
    if (
        ratio is not None
        and source_chars >= thresholds.min_source_chars
        and not thresholds.min_length_ratio <= ratio <= thresholds.max_length_ratio
    ):
        flags.append(FLAG_LENGTH_RATIO)
    if has_repetition(
        translation,
        max_repeats=thresholds.max_repeats,
        min_distinct_ngrams=thresholds.min_distinct_ngrams,
    ):
        flags.append(FLAG_REPETITION)
    if latin >= thresholds.max_latin_words:
        flags.append(FLAG_UNTRANSLATED_LATIN)
    return flags, {"length_ratio": None if ratio is None else round(ratio, 3), "latin_run": latin}


# ---- running a generator -------------------------------------------------------------


def translate_texts(generator, texts: Sequence[str], *, max_new_tokens: int, seed: int = 0):
    """Translate every text with `generator` (scoring.generation.Generator) in one batch of
    requests and return Simplified Chinese, in input order; an empty text stays empty.

    A chat model gets each whole text in `TRANSLATION_PROMPT`; a seq2seq model gets every
    sentence of every text (segment_text), whose translations are put back in place. A
    GenerationError that blames one request names the text it came from (its ``index``).
    """
    from .generation import GenerationRequest

    if generator.is_chat:
        todo = [n for n, text in enumerate(texts) if text.strip()]
        replies = _generate_for_texts(
            generator,
            [
                GenerationRequest(translation_messages(texts[n]), max_new_tokens=max_new_tokens)
                for n in todo
            ],
            text_of_request=todo,
            seed=seed,
        )
        out = [""] * len(texts)
        for n, reply in zip(todo, replies, strict=True):
            out[n] = clean_chat_translation(to_simplified(reply))
        return out
    segmented = [segment_text(text) for text in texts]
    sentences = [s for seg in segmented for s in seg.sentences]
    replies = _generate_for_texts(
        generator,
        [GenerationRequest(seq2seq_messages(s), max_new_tokens=max_new_tokens) for s in sentences],
        text_of_request=[n for n, seg in enumerate(segmented) for _ in seg.sentences],
        seed=seed,
    )
    out, at = [], 0
    for seg in segmented:
        part = [r.strip() for r in replies[at : at + len(seg.sentences)]]
        at += len(seg.sentences)
        joined = seg.rejoin(part) if any(part) else ""
        out.append(to_simplified(joined))
    return out


def _generate_for_texts(generator, requests, *, text_of_request: list[int], seed: int):
    from .generation import blaming

    with blaming(text_of_request.__getitem__):
        return generator.generate(requests, seed=seed)


def translation_provenance(generator, *, model: str) -> dict:
    """What origin.translation records: the model and the prompt template used."""
    if generator.is_chat:
        return {"model": model, "prompt": TRANSLATION_PROMPT_NAME, "template": TRANSLATION_PROMPT}
    return {"model": model, "prompt": SEQ2SEQ_PROMPT_NAME, "template": "{sentence}"}
