"""Decode a JSON array of records element by element (RecordStream's 'json' kind).

The buffer holds decoded text from the current element on, so memory follows the largest
element, never the file. Hostile elements end as a `file:line: message`, never a traceback:
one nested deeper than Python's recursion limit allows (about 1,000 levels), or a number
too long to convert (Python itself refuses integers of over 4,300 digits).
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from ..errors import RowError

if TYPE_CHECKING:
    from .reader import Record, RecordStream, UnreadableFile

try:
    from orjson import loads as _loads
except ImportError:  # the pure-Python parser gives the same results, only slower
    _loads = json.loads

_READ_CHUNK = 1 << 20
_WHITESPACE_RUN = re.compile(r"[ \t\r\n]*")
_SURROGATE_ESCAPE = re.compile(r"\\[uU][dD][89a-fA-F]")
# JSONDecodeError positions closer than this to the end of the buffer may just mean "the
# element goes on in the next chunk" (a cut number, escape or keyword).
_TRUNCATION_MARGIN = 12
# Longer integers are refused (Python's own limit on converting them is 4,300 digits).
MAX_NUMBER_DIGITS = 1000


class _NotJSON(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not valid JSON")


def _parse_int(digits: str) -> int:
    if len(digits) > MAX_NUMBER_DIGITS:
        raise _NotJSON(f"a number of {len(digits):,} digits is too long")
    return int(digits)


def _parse_float(digits: str) -> float:
    if len(digits) > MAX_NUMBER_DIGITS:
        raise _NotJSON(f"a number of {len(digits):,} digits is too long")
    return float(digits)


def too_deep_message() -> str:
    return "values nested too deep (about a thousand levels at most)"


class ArrayParser:
    """Decode `[ {...}, {...} ]` element by element.

    The buffer holds decoded text from the current element on; when an element runs past
    its end, more is read (at least doubling what is pending, so a large element costs
    O(size), not O(size²)) until it parses, the file ends, or it exceeds the record cap.
    """

    def __init__(self, stream: RecordStream, f: BinaryIO) -> None:
        self.stream = stream
        self.file = f
        self.decoder = json.JSONDecoder(
            parse_constant=_reject_constant, parse_int=_parse_int, parse_float=_parse_float
        )
        self.utf8 = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.line = 1  # the line at self.pos
        self.eof = False
        self.newlines_read = 0  # newlines in the bytes decoded so far, for encoding errors

    def records(self) -> Iterator[Record]:
        self._skip_whitespace()
        self.pos += 1  # the '[' that sniffing found
        if self._next_char() == "]":
            self._consume_close()
            return
        while True:
            start_line = self._skip_whitespace()
            value, end = self._decode_element(start_line)
            yield start_line, self._check_element(value, end, start_line)
            self._advance(end)
            separator = self._next_char()
            if separator == ",":
                self._advance(self.pos + 1)
                if self._next_char() == "]":
                    raise self._malformed(self.line, "a comma before ']' (trailing comma)")
                continue
            if separator == "]":
                self._consume_close()
                return
            raise self._malformed(
                self.line,
                f"expected ',' or ']' after an element, found {_shown(separator)}",
            )

    def _decode_element(self, start_line: int) -> tuple[Any, int]:
        cap = self.stream.max_record_bytes
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except _NotJSON as exc:
                raise self._malformed(start_line, str(exc)) from None
            except RecursionError:
                raise self._malformed(start_line, too_deep_message()) from None
            except json.JSONDecodeError as exc:
                cut_short = (
                    exc.msg.startswith("Unterminated string")
                    or exc.pos >= len(self.buf) - _TRUNCATION_MARGIN
                )
                if not cut_short or self.eof:
                    line = start_line + self.buf.count("\n", self.pos, exc.pos)
                    raise self._malformed(line, exc.msg) from None
                if len(self.buf) - self.pos > cap:
                    raise self._too_large(start_line) from None
                self._read(len(self.buf) - self.pos)
                continue
            # A number or keyword that ends exactly at the buffer's end may go on.
            if end < len(self.buf) or self.eof:
                return value, end
            self._read(len(self.buf) - self.pos)

    def _check_element(self, value: Any, end: int, line: int) -> dict[str, Any] | RowError:
        text = self.buf[self.pos : end]
        cap = self.stream.max_record_bytes
        # Characters are 1 to 4 bytes: only count bytes when the characters alone might not.
        if len(text) * 4 > cap and len(text.encode("utf-8", "surrogatepass")) > cap:
            raise self._too_large(line)
        if _SURROGATE_ESCAPE.search(text):
            try:  # json accepts an unpaired surrogate, which no database text can hold
                _loads(text.encode("utf-8", "surrogatepass"))
            except ValueError as exc:
                return RowError(
                    path=self.stream.name, line=line, field="", message=f"malformed JSON ({exc})"
                )
        if not isinstance(value, dict):
            return self.stream.not_an_object(line, value)
        return value

    def _advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def _skip_whitespace(self) -> int:
        """Move past whitespace (reading on as needed); returns the line reached."""
        while True:
            end = _WHITESPACE_RUN.match(self.buf, self.pos).end()
            self._advance(end)
            if self.pos < len(self.buf) or self.eof:
                return self.line
            self._read(0)

    def _next_char(self) -> str:
        self._skip_whitespace()
        if self.pos >= len(self.buf):
            raise self._malformed(self.line, "the file ends before the JSON array is closed")
        return self.buf[self.pos]

    def _consume_close(self) -> None:
        self._advance(self.pos + 1)
        self._skip_whitespace()
        if self.pos < len(self.buf):
            raise self._malformed(
                self.line,
                f"unexpected {_shown(self.buf[self.pos])} after the end of the JSON array",
            )

    def _read(self, pending: int) -> None:
        """Append decoded text, dropping what is already parsed."""
        data = self.file.read(max(_READ_CHUNK, pending))
        self.stream._bytes_done += len(data)
        if b"\x00" in data:
            line = self.newlines_read + data.count(b"\n", 0, data.index(b"\x00")) + 1
            raise self.stream.fail(line, self.stream.binary_message())
        try:
            text = self.utf8.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise self.stream.encoding_error(
                exc.object, exc, first_line=self.newlines_read + 1
            ) from None
        self.newlines_read += data.count(b"\n")
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        self.eof = not data

    def _malformed(self, line: int, detail: str) -> UnreadableFile:
        return self.stream.fail(line, f"malformed JSON array ({detail})")

    def _too_large(self, line: int) -> UnreadableFile:
        return self.stream.unreadable(self.stream.too_large(line))


def _shown(char: str) -> str:
    return repr(char) if char.isprintable() else f"U+{ord(char):04X}"
