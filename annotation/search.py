"""Text search over items through an index of character bigrams (PostgreSQL).

An item's searchable text is `lower(instruction || U+001F || input || U+001F || output)`.
Its keys are the distinct pairs of adjacent characters in it, each packed into one int4:
(code of the first << 16 | code of the second) - 2**31, where a character outside the
Basic Multilingual Plane has the code 0xD800 + (code point & 0x7FF) (the surrogate range, which
text never holds otherwise; two such characters can share a code, so a query with one is
checked against the text as well). The keys live in a side table, ItemSearchText, under a
GIN index; a query for "熊猫" looks for the items whose keys contain its one key. Why:
- a Chinese word is mostly two characters, and pg_trgm extracts no trigram from two
  characters (a search for one scanned every row); PostgreSQL has no bigram extension;
- the keys are off the item row, so a status change (which rewrites the item's row and its
  index entries) leaves the text index alone: only a change of the text touches it;
- integer keys, not the two-character strings: the index builds 2.5x faster (20k items,
  10 s against 24-28 s, same session), and a key takes four bytes in the table.
A query of exactly two characters of the BMP needs nothing else: the text holds the pair if
and only if its keys hold the key. Longer queries are then checked with ILIKE on the items the
index found; a one-character query has no key and scans.

The SQL function vad_search_keys (migration 0007) is the definition: a trigger calls it when
an item is inserted or its text changes. search_keys() below computes the same keys for many
texts at once in numpy, for the follow-up that indexes an import after it commits
(services.search); a test holds the two equal.
"""

from __future__ import annotations

import numpy as np

# The searchable text of an item, in SQL, as the trigger of migration 0007 computes it.
SEARCH_TEXT_SQL = "lower({t}instruction || E'\\x1f' || {t}input || E'\\x1f' || {t}output)"


def _codes(text: str) -> np.ndarray:
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    return np.where(codes < 0x10000, codes, 0xD800 + (codes & 0x7FF))


def search_keys(texts: list[str]) -> list[np.ndarray]:
    """The keys of each text (already lowered), sorted, as vad_search_keys returns them.

    One numpy pass over all the texts: per text, the numpy calls would cost more than the
    work. Texts are joined with NUL, which PostgreSQL text never holds, and pairs with a NUL
    are dropped.
    """
    if not texts:
        return []
    codes = _codes("\0".join(texts))
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths + 1)[:-1]
    first, second = codes[:-1], codes[1:]
    real = (first != 0) & (second != 0)
    packed = np.sort((rows[:-1][real] << 32) | (first[real] << 16) | second[real])
    # np.sort and a mask, not np.unique: in numpy 2.4, np.unique took 3.6 s where this
    # takes 0.05 s (1.2M pairs, 5,000 texts).
    if packed.size:
        packed = packed[np.concatenate(([True], packed[1:] != packed[:-1]))]
    keys = ((packed & 0xFFFFFFFF) - 2**31).astype(np.int32)
    bounds = np.searchsorted(packed >> 32, np.arange(len(texts) + 1))
    return [keys[bounds[i] : bounds[i + 1]] for i in range(len(texts))]


def query_is_exact(query: str) -> bool:
    """Whether the index alone answers a search for `query` (see the module's docstring)."""
    lowered = query.lower()
    return len(lowered) == 2 and all(ord(ch) < 0x10000 for ch in lowered)
