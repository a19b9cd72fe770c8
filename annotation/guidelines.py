"""The annotation guidelines: default texts, and the text cut into blocks for the page.

The text is plain: a line starting with "# " is a heading, one starting with "- " a list
entry, anything else a paragraph. The page renders the blocks with auto-escaping, so an
admin's text never becomes markup.
"""

from dataclasses import dataclass, field
from pathlib import Path

TEXTS = Path(__file__).resolve().parent / "guideline_texts"
DEFAULT_GUIDELINES = {
    language: (TEXTS / f"{language}.txt").read_text(encoding="utf-8")
    for language in ("zh-hans", "en")
}


@dataclass
class Block:
    kind: str  # "heading", "paragraph" or "list"
    text: str = ""
    entries: list[str] = field(default_factory=list)


def guideline_blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("# "):
            blocks.append(Block(kind="heading", text=line[2:].strip()))
        elif line.startswith("- "):
            if not blocks or blocks[-1].kind != "list":
                blocks.append(Block(kind="list"))
            blocks[-1].entries.append(line[2:].strip())
        else:
            blocks.append(Block(kind="paragraph", text=line))
    return blocks
