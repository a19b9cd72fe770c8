import hashlib
import json

import pytest

from annotation.hashing import content_hash

# Control characters, quotes, backslashes, line/paragraph separators, a BOM, DEL, CJK, an emoji.
TRICKY = ["\x01\x1f\b\f\n\r\t", '"\\/', "\u2028\u2029", "\ufeff", "\x7f", "价值观", "\U0001f600"]


def stdlib_payload_hash(fields: list[str]) -> str:
    """The definition the stored hashes were first computed with."""
    payload = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@pytest.mark.parametrize("text", TRICKY)
def test_hash_is_sha256_of_the_json_array_of_normalized_fields(text):
    fields = {
        "instruction": f"问{text}题",
        "input": text,
        "output": f"a{text}b",
        "source": "manual",
        "categorization": "",
    }
    expected = stdlib_payload_hash([v.strip() for v in fields.values()])
    assert content_hash(**fields) == expected


def test_hash_ignores_nfc_crlf_and_surrounding_space_but_not_field_boundaries():
    base = dict(instruction="Café\nx", input="", output="ok", source="manual", categorization="")
    same = dict(base, instruction="  Cafe\u0301\r\nx \n")
    moved = dict(base, instruction="Café\nxo", output="k")
    assert content_hash(**same) == content_hash(**base)
    assert content_hash(**moved) != content_hash(**base)
