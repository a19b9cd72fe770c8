"""Evol-Instruct for Chinese values prompts: operations, prompts and elimination rules.

Plain Python (no Django). Follows WizardLM (Xu et al., 2023, "WizardLM: Empowering Large
Language Models to Follow Complex Instructions"): in each round every instruction gets one
operation, in-depth (add constraints, deepen, concretize, increase reasoning steps) or
in-breadth (a new, rarer prompt of the same domain); an evolved instruction and its answer
are then checked by the paper's elimination rules. The prompt templates are our own,
written in Chinese for a values dataset; CValues-Comparison reference answers, when the
parent has one, are given as context.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEPTH_OPS = ("constraints", "deepen", "concretize", "reasoning")
BREADTH_OP = "breadth"
ALL_OPS = (*DEPTH_OPS, BREADTH_OP)
EVOLVE_PROMPT_NAME = "zh-evol-v1"

RULE_NO_GAIN = "no_information_gain"
RULE_SHORT_REFUSAL = "short_refusal"
RULE_STOPWORDS_ONLY = "stopwords_only"
RULE_TEMPLATE_COPY = "template_copy"
ALL_RULES = (RULE_TEMPLATE_COPY, RULE_NO_GAIN, RULE_SHORT_REFUSAL, RULE_STOPWORDS_ONLY)
FLAG_JUDGE_UNPARSED = "judge_unparsed"


def parse_ops(ops: str | Iterable[str]) -> tuple[str, ...]:
    """`"constraints,deepen"` or a list → the operations, in order, without repeats."""
    names = ops.split(",") if isinstance(ops, str) else list(ops)
    out: list[str] = []
    for name in (n.strip() for n in names):
        if not name:
            continue
        if name not in ALL_OPS:
            raise ValueError(f"unknown operation {name!r}: choose from {', '.join(ALL_OPS)}")
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError(f"no operation given: choose from {', '.join(ALL_OPS)}")
    return tuple(out)


def parse_rules(rules: str | Iterable[str]) -> tuple[str, ...]:
    names = rules.split(",") if isinstance(rules, str) else list(rules)
    out = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
    unknown = [n for n in out if n not in ALL_RULES]
    if unknown:
        raise ValueError(f"unknown rule {unknown[0]!r}: choose from {', '.join(ALL_RULES)}")
    return out


def choose_ops(
    *, parent_id: int, round: int, ops: Sequence[str], all_ops: bool = False
) -> list[str]:
    """The operations a parent gets in a round: all of `ops`, or one picked from
    (parent, round) by a hash, so a re-run picks the same one (WizardLM picks one at random)."""
    if all_ops:
        return list(ops)
    digest = hashlib.sha256(f"{parent_id}:{round}".encode()).digest()
    return [ops[int.from_bytes(digest[:8], "big") % len(ops)]]


# ---- evolution prompts ---------------------------------------------------------------

_DEPTH_HEAD = (
    "我希望你扮演一名指令改写者。\n"
    "你的目标是把#给定指令#改写成一个更复杂的版本，让知名的大语言模型（例如 ChatGPT、GPT-4）"
    "更难应对。\n"
    "改写后的指令必须合理，能被人理解和回答，并且仍然围绕价值观、社会责任与公共利益的话题。"
    "不要引导对方做违法或有害的事。\n"
    "不要省略#给定指令#中的非文字部分（例如表格、代码）。\n"
    "改写时请使用下面的方法：\n{method}\n"
    "改写后的指令应当简洁，只比#给定指令#多出 10 到 40 个字。\n"
    "“#给定指令#”“#改写后的指令#”“给定指令”“改写后的指令”这些字眼不能出现在改写后的指令中。\n"
    "只输出改写后的指令本身。\n"
)
DEPTH_METHODS = {
    "constraints": "为#给定指令#再增加一个约束或要求"
    "（例如回答的对象、立场、篇幅或必须考虑的因素）。",
    "deepen": "如果#给定指令#涉及某个问题，请加深和拓宽提问的深度与广度，追问背后的原因、"
    "影响或不同群体的看法。",
    "concretize": "把#给定指令#中笼统的概念替换成更具体的概念，例如具体的人物身份、场景、"
    "时间地点或事件经过。",
    "reasoning": "如果#给定指令#只需几步简单思考就能解决，请改写成明确要求多步推理的指令，"
    "例如先分析利弊、再权衡各方利益、最后给出理由充分的建议。",
}
_BREADTH_HEAD = (
    "我希望你扮演一名指令创作者。\n"
    "你的目标是从#给定指令#中获得灵感，创作一条全新的指令。\n"
    "新指令应与#给定指令#属于同一领域{domain}，但话题更少见、更具体。\n"
    "新指令的长度和难度应与#给定指令#相近，必须合理，能被人理解和回答，"
    "并且围绕价值观、社会责任与公共利益。\n"
    "“#给定指令#”“#新指令#”“给定指令”“新指令”这些字眼不能出现在新指令中。\n"
    "只输出新指令本身。\n"
)
_REFERENCE = (
    "下面是一位负责任的回答者对#给定指令#的参考回答，帮助你把握其中的价值观要点"
    "（不要照抄，也不要把它写进指令）：\n{reference}\n"
)
_DEPTH_TAIL = "#给定指令#：\n{instruction}\n#改写后的指令#：\n"
_BREADTH_TAIL = "#给定指令#：\n{instruction}\n#新指令#：\n"


def evolve_prompt(
    *, op: str, instruction: str, reference_output: str = "", domain: str = ""
) -> str:
    """The prompt that asks a chat model to evolve `instruction` by `op`."""
    context = _REFERENCE.format(reference=reference_output.strip()) if reference_output else ""
    if op == BREADTH_OP:
        head = _BREADTH_HEAD.format(domain=f"（{domain}）" if domain else "")
        return head + context + _BREADTH_TAIL.format(instruction=instruction)
    if op not in DEPTH_METHODS:
        raise ValueError(f"unknown operation {op!r}: choose from {', '.join(ALL_OPS)}")
    head = _DEPTH_HEAD.format(method=DEPTH_METHODS[op])
    return head + context + _DEPTH_TAIL.format(instruction=instruction)


def evolve_messages(**kwargs) -> list[dict[str, str]]:
    return [{"role": "user", "content": evolve_prompt(**kwargs)}]


def answer_messages(instruction: str, input: str = "") -> list[dict[str, str]]:
    """The answer is generated from the instruction alone, as it will be scored and used."""
    content = instruction + ("\n\n" + input if input else "")
    return [{"role": "user", "content": content}]


def clean_generated(text: str) -> str:
    """Drop a leading reasoning block (<think>…</think>) and surrounding whitespace."""
    return re.sub(r"^\s*<think>.*?</think>", "", text, flags=re.DOTALL).strip()


# ---- elimination rules ---------------------------------------------------------------

# 1. No information gain (the paper's equality check), judged by the model.
JUDGE_PROMPT = (
    "下面是给 AI 助手的两条指令。请判断它们是否相同，相同的标准是：\n"
    "1. 它们的约束和要求相同；\n"
    "2. 它们提问的深度和广度相同。\n"
    "第一条指令：\n{parent}\n\n第二条指令：\n{child}\n\n"
    "你的判断（只回答“相同”或“不同”，不要解释）："
)
_VERDICT_DIFFERENT = ("不相同", "不同", "不一样", "not equal", "different")
_VERDICT_SAME = ("相同", "一样", "equal", "same")


def judge_messages(*, parent: str, child: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": JUDGE_PROMPT.format(parent=parent, child=child)}]


def parse_verdict(text: str) -> bool | None:
    """True: the evolved instruction differs (it gains information); False: same as its
    parent; None: no clear verdict (both or neither answer found)."""
    text = clean_generated(text).lower()
    if not text:
        return None
    different = any(word in text for word in _VERDICT_DIFFERENT)
    rest = text
    for word in _VERDICT_DIFFERENT:
        rest = rest.replace(word, " ")
    same = any(word in rest for word in _VERDICT_SAME)
    if different != same:
        return different
    return None


# 2. Only a short apology or refusal. The paper drops answers that contain "sorry" and are
# shorter than 80 words. Our Chinese equivalent: an apology or refusal phrase, fewer than
# 120 characters (Chinese characters plus 1.5 per Latin word, about 80 English words), and
# no positive guidance. A values dataset keeps principled refusals that point somewhere
# better ("不能帮你……，建议你……"), so guidance words save an answer from this rule.
SHORT_ANSWER_UNITS = 120
REFUSAL_MARKERS = (
    "抱歉",
    "对不起",
    "很遗憾",
    "不好意思",
    "我不能",
    "我无法",
    "无法回答",
    "不能回答",
    "无法提供",
    "不能提供",
    "无法满足",
    "不能满足",
    "无法帮",
    "不能帮",
    "无能为力",
    "作为一个ai",
    "作为ai",
    "作为人工智能",
    "sorry",
    "i cannot",
    "i can't",
    "as an ai",
)
GUIDANCE_MARKERS = (
    "建议",
    "你可以",
    "您可以",
    "可以尝试",
    "可以考虑",
    "不妨",
    "应该",
    "应当",
    "寻求",
    "求助",
    "咨询",
    "拨打",
    "联系",
    "沟通",
    "鼓励",
    "推荐",
    "正确的做法",
    "合法途径",
    "正规渠道",
    "you can",
    "you could",
    "i suggest",
    "i recommend",
)
_LATIN_WORD = re.compile(r"[A-Za-z]+(?:['’-][A-Za-z]+)*")


def answer_length_units(text: str) -> float:
    cjk = sum(1 for c in text if "\u3400" <= c <= "\u9fff")
    return cjk + 1.5 * len(_LATIN_WORD.findall(text))


def is_short_refusal(answer: str) -> bool:
    text = answer.lower().replace(" ", "")
    spaced = answer.lower()
    refusal = any(m.replace(" ", "") in text for m in REFUSAL_MARKERS)
    guidance = any(m in spaced or m.replace(" ", "") in text for m in GUIDANCE_MARKERS)
    return refusal and not guidance and answer_length_units(answer) < SHORT_ANSWER_UNITS


# 3. Only punctuation and stop words (after them nothing is left).
_STOP_WORDS_TEXT = (
    "的 了 着 过 是 在 和 与 及 或 而 也 都 就 还 又 吗 呢 吧 啊 呀 哦 嗯 噢 哈 嘛 呗 "
    "好 对 行 嗯嗯 好的 是的 对的 可以 不 没 没有 有 这 那 这个 那个 这样 那样 "
    "我 你 您 他 她 它 我们 你们 他们 她们 它们 自己 什么 怎么 为什么 哪 哪里 "
    "一 一个 一些 个 些 所以 因为 但是 但 如果 然后 其实 就是 知道 明白 谢谢 "
    "the a an and or but of to in on at is are was were be it this that yes no ok okay "
    "i you he she we they me my your so well oh um uh sure fine thanks"
)
STOP_WORDS = tuple(sorted(set(_STOP_WORDS_TEXT.split()), key=len, reverse=True))
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def is_stopwords_only(answer: str) -> bool:
    text = _NOT_WORD.sub(" ", answer.lower())
    for word in STOP_WORDS:
        if word.isascii():
            text = re.sub(rf"\b{re.escape(word)}\b", " ", text)
        else:
            text = text.replace(word, " ")
    return not text.strip()


# 4. The evolved instruction copies the evolution prompt's own words.
TEMPLATE_WORDS = (
    "#给定指令#",
    "#改写后的指令#",
    "#新指令#",
    "给定指令",
    "改写后的指令",
    "#given prompt#",
    "#rewritten prompt#",
    "#created prompt#",
    "given prompt",
    "rewritten prompt",
    "created prompt",
)


def copies_template(instruction: str) -> bool:
    text = instruction.lower()
    return any(word in text for word in TEMPLATE_WORDS)


@dataclass(frozen=True)
class Elimination:
    rule: str | None  # the first rule that removes the item, or None: it survives
    flags: tuple[str, ...] = ()


def eliminate(
    *,
    instruction: str,
    answer: str,
    verdict: bool | None,
    rules: Sequence[str] = ALL_RULES,
) -> Elimination:
    """Apply the switched-on rules in ALL_RULES order. `verdict` is parse_verdict's answer
    (None after the retry: the item is kept and flagged judge_unparsed)."""
    flags: tuple[str, ...] = ()
    if RULE_NO_GAIN in rules and verdict is None:
        flags = (FLAG_JUDGE_UNPARSED,)
    checks = {
        RULE_TEMPLATE_COPY: lambda: copies_template(instruction),
        RULE_NO_GAIN: lambda: verdict is False,
        RULE_SHORT_REFUSAL: lambda: is_short_refusal(answer),
        RULE_STOPWORDS_ONLY: lambda: is_stopwords_only(answer),
    }
    for rule in ALL_RULES:
        if rule in rules and checks[rule]():
            return Elimination(rule=rule, flags=flags)
    return Elimination(rule=None, flags=flags)
