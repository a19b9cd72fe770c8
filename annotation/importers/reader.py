"""Stream the records of an import file: JSON lines, a JSON array, or Parquet.

Files can be hundreds of megabytes, so nothing here holds a whole file in memory: JSON lines
are read line by line (each line capped), a JSON array is decoded one element at a time from
a buffer that grows only as far as the current element, and Parquet is read in batches.

Two kinds of problems:
- a bad record (malformed JSON line, a line over the size cap, an element that is not an
  object) is yielded in place of the record as a RowError, so `--skip-invalid` can go on;
- a file that cannot be read as a whole (wrong encoding, binary data, empty, a JSON array
  broken mid-way, a damaged Parquet file) raises UnreadableFile: no row after it can be
  trusted, so no option skips it.
"""

from __future__ import annotations

import codecs
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import RowError
from .base import json_type

try:
    from orjson import loads as _loads
except ImportError:  # the pure-Python parser gives the same results, only slower
    _loads = json.loads

PARQUET_MAGIC = b"PAR1"
_READ_CHUNK = 1 << 20
_SNIFF_BYTES = 64 * 1024
_UTF8_BOM = codecs.BOM_UTF8
# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_FOREIGN_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)
_WHITESPACE_RUN = re.compile(r"[ \t\r\n]*")
_SURROGATE_ESCAPE = re.compile(r"\\[uU][dD][89a-fA-F]")
# JSONDecodeError positions closer than this to the end of the buffer may just mean "the
# element goes on in the next chunk" (a cut number, escape or keyword).
_TRUNCATION_MARGIN = 12

# A record as yielded: (line where it starts, the parsed object or the RowError saying why
# that record cannot be used). The object is a dict, or what the line decoder made of a JSON
# line. Parquet rows count as lines, 1-based.
Record = tuple[int, Any]

UTF8_ADVICE = "save the file as UTF-8 (without a byte order mark, or with the UTF-8 one)"


class UnreadableFile(Exception):
    """The file as a whole cannot be imported; `error` says where and why."""

    def __init__(self, error: RowError) -> None:
        self.error = error
        super().__init__(str(error))


class RecordStream:
    """Iterate over (line, record) of one file; `kind` is 'jsonl', 'json' or 'parquet'.

    The kind is decided when the stream is created, so a file that is empty, binary or in
    the wrong encoding fails before any row is read.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        display_name: str | None = None,
        max_record_bytes: int,
        line_decoder: Callable[[bytes], Any] | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = display_name or str(path)
        self.max_record_bytes = max_record_bytes
        # JSON lines only: tried first on each line; None from it means "parse as a dict".
        self.line_decoder = line_decoder
        self.size = self.path.stat().st_size
        self._bytes_done = 0
        self._rows_done = 0
        self._rows_total = 0
        self.kind, self._start = self._sniff()

    def position(self) -> int:
        """Bytes of the file consumed so far (estimated for Parquet), for progress bars."""
        if self.kind == "parquet":
            return self.size * self._rows_done // max(self._rows_total, 1)
        return min(self._bytes_done, self.size)

    def __iter__(self) -> Iterator[Record]:
        if self.kind == "parquet":
            return self._parquet_records()
        if self.kind == "json":
            return self._array_records()
        return self._line_records()

    # Deciding what the file is.

    def _fail(self, line: int, message: str) -> UnreadableFile:
        return UnreadableFile(RowError(path=self.name, line=line, field="", message=message))

    def _sniff(self) -> tuple[str, int]:
        with self.path.open("rb") as f:
            head = f.read(_SNIFF_BYTES)
            if head.startswith(PARQUET_MAGIC):
                return "parquet", 0
            for bom, encoding in _FOREIGN_BOMS:
                if head.startswith(bom):
                    raise self._fail(
                        1,
                        f"the file is {encoding}-encoded (it starts with a {encoding} byte "
                        f"order mark); {UTF8_ADVICE}",
                    )
            start = len(_UTF8_BOM) if head.startswith(_UTF8_BOM) else 0
            if b"\x00" in head:
                line = head.count(b"\n", 0, head.index(b"\x00")) + 1
                raise self._fail(line, _binary_message())
            first, line = self._first_character(f, head, start)
        if first is None:
            raise self._fail(0, "the file is empty (no records)")
        if first == ord("["):
            return "json", start
        if first == ord("{"):
            return "jsonl", start
        self._check_utf8(head[start:])
        shown = repr(chr(first)) if 32 < first < 127 else f"byte 0x{first:02X}"
        raise self._fail(
            line,
            f"starts with {shown}: expected '[' (a JSON array of records) or '{{' "
            "(JSON lines, one record per line)",
        )

    @staticmethod
    def _first_character(f: BinaryIO, head: bytes, start: int) -> tuple[int | None, int]:
        """The first non-whitespace byte and its line; (None, n) for a blank file."""
        line = 1
        chunk, offset = head, start
        while chunk:
            stripped = chunk[offset:].lstrip(b" \t\r\n")
            if stripped:
                consumed = len(chunk) - len(stripped)
                return stripped[0], line + chunk.count(b"\n", offset, consumed)
            line += chunk.count(b"\n", offset)
            chunk, offset = f.read(_READ_CHUNK), 0
        return None, line

    def _check_utf8(self, data: bytes, *, first_line: int = 1) -> None:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data":
                return  # a character cut by the end of the sniffed bytes, not an error
            raise self._encoding_error(data, exc, first_line=first_line) from None

    def _encoding_error(
        self, data: bytes, exc: UnicodeDecodeError, *, first_line: int
    ) -> UnreadableFile:
        line = first_line + data.count(b"\n", 0, exc.start)
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex().upper()
        return self._fail(
            line,
            f"not valid UTF-8 (byte 0x{bad} at column {column}); the file is probably in "
            f"another encoding such as GBK: {UTF8_ADVICE}",
        )

    # JSON lines.

    def _line_records(self) -> Iterator[Record]:
        limit, decode = self.max_record_bytes, self.line_decoder
        with self.path.open("rb", buffering=_READ_CHUNK) as f:
            f.seek(self._start)
            line = 0
            while True:
                raw = f.readline(limit + 1)
                if not raw:
                    break
                line += 1
                if len(raw) > limit and not raw.endswith(b"\n"):
                    _skip_rest_of_line(f)
                    self._bytes_done = f.tell()
                    yield line, self._too_large(line)
                    continue
                self._bytes_done += len(raw)
                if raw.isspace():
                    continue
                if b"\x00" in raw:
                    raise self._fail(line, _binary_message())
                if decode is not None and (decoded := decode(raw)) is not None:
                    yield line, decoded
                    continue
                try:
                    value = _loads(raw)
                except ValueError as exc:
                    yield line, self._malformed_line(raw, line, exc)
                    continue
                yield line, value if isinstance(value, dict) else self._not_an_object(line, value)

    def _malformed_line(self, raw: bytes, line: int, exc: ValueError) -> RowError:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as decode_error:
            raise self._encoding_error(raw, decode_error, first_line=line) from None
        if isinstance(exc, json.JSONDecodeError):
            detail = f"{exc.msg} at column {exc.colno}"
        else:
            detail = str(exc)
        return RowError(
            path=self.name,
            line=line,
            field="",
            message=f"malformed JSON ({detail}); JSON lines need one complete object per line",
        )

    def _too_large(self, line: int) -> RowError:
        return RowError(
            path=self.name,
            line=line,
            field="",
            message=f"record is longer than the limit of {self.max_record_bytes} bytes "
            "(VAD_IMPORT_MAX_RECORD_BYTES)",
        )

    def _not_an_object(self, line: int, value: Any) -> RowError:
        return RowError(
            path=self.name,
            line=line,
            field="",
            message=f"each record must be a JSON object, not {json_type(value)}",
        )

    # A JSON array.

    def _array_records(self) -> Iterator[Record]:
        with self.path.open("rb") as f:
            f.seek(self._start)
            self._bytes_done = self._start
            yield from _ArrayParser(self, f).records()

    # Parquet.

    def _parquet_records(self) -> Iterator[Record]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(self.path)
            self._rows_total = parquet.metadata.num_rows
            for batch in parquet.iter_batches(batch_size=2048):
                for value in batch.to_pylist():
                    self._rows_done += 1
                    yield self._rows_done, value
        except (pa.ArrowException, OSError) as exc:
            raise self._fail(0, f"not a readable Parquet file: {exc}") from None


def _skip_rest_of_line(f: BinaryIO) -> None:
    while True:
        more = f.readline(_READ_CHUNK)
        if not more or more.endswith(b"\n"):
            return


def _binary_message() -> str:
    return (
        "binary data (a NUL byte): this is not a UTF-8 JSON text file (a UTF-16 file "
        f"without a byte order mark looks like this too); {UTF8_ADVICE}"
    )


class _NotJSON(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not valid JSON")


class _ArrayParser:
    """Decode `[ {...}, {...} ]` element by element.

    The buffer holds decoded text from the current element on; when an element runs past
    its end, more is read (at least doubling what is pending, so a large element costs
    O(size), not O(size²)) until it parses, the file ends, or it exceeds the record cap.
    """

    def __init__(self, stream: RecordStream, f: BinaryIO) -> None:
        self.stream = stream
        self.file = f
        self.decoder = json.JSONDecoder(parse_constant=_reject_constant)
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
            return self.stream._not_an_object(line, value)
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
            raise self.stream._fail(line, _binary_message())
        try:
            text = self.utf8.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise self.stream._encoding_error(
                exc.object, exc, first_line=self.newlines_read + 1
            ) from None
        self.newlines_read += data.count(b"\n")
        self.buf = self.buf[self.pos :] + text
        self.pos = 0
        self.eof = not data

    def _malformed(self, line: int, detail: str) -> UnreadableFile:
        return self.stream._fail(line, f"malformed JSON array ({detail})")

    def _too_large(self, line: int) -> UnreadableFile:
        return UnreadableFile(self.stream._too_large(line))


def _shown(char: str) -> str:
    return repr(char) if char.isprintable() else f"U+{ord(char):04X}"
