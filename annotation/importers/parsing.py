"""Turn a record stream into outcomes (a draft, None for "not selected", or a RowError).

Parsing and checking rows is pure Python work; writing them is mostly waiting for the
database. BackgroundParser runs the first in a thread so the two overlap: while PostgreSQL
stores one batch, the next is being parsed. The thread never touches the database.

While a parser runs in a process that allowed it (allow_collector_pause: the import_items
command and the Celery worker's import task, never a web process, whose other requests need
the collector), the cyclic garbage collector is paused. Each kept row allocates a few
container objects (the draft, its origin, lists) and thousands are alive at any time in the
queue and the batch being written, so the collector would run hundreds of times during a
large import and walk them again and again, holding the interpreter lock that the parser and
the writer share: 0.18-0.25 s of a 1.6 s SafeRLHF import. Nothing an import creates refers
to itself, so it leaves no cyclic garbage behind; reference counting frees its rows as before.
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Iterator
from types import TracebackType

from ..errors import RowError
from .base import BadRow, Converter, ItemDraft
from .reader import RecordStream

# (line, outcome): the line (or Parquet row) where the record starts, and what it became.
Parsed = tuple[int, ItemDraft | RowError | None]

_END = object()


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def parse_records(stream: RecordStream, convert: Converter) -> Iterator[Parsed]:
    """Outcomes in file order; the record's 0-based index is its row identity."""
    name = stream.name
    for row, (line, record) in enumerate(stream):
        if isinstance(record, RowError):
            yield line, record  # the reader's verdict on this record
            continue
        try:
            yield line, convert(record, row)
        except BadRow as exc:
            yield line, RowError(path=name, line=line, field=exc.field, message=exc.message)


class _CyclicGcPause:
    """A pause of the cyclic garbage collector that parsers running at the same time in one
    process share: the collector resumes when the last one ends, and only if it was on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._resume = False

    def __enter__(self) -> None:
        with self._lock:
            if self._holders == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._holders += 1

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0 and self._resume:
                gc.enable()


_cyclic_gc_paused = _CyclicGcPause()
_collector_pause_allowed = False


def allow_collector_pause(allowed: bool = True) -> None:
    """Let imports in this process pause the cyclic garbage collector while they parse.

    For processes that do nothing else meanwhile (a worker, a command). 0.18-0.25 s of a
    1.6 s SafeRLHF import went to the collector (the README's figures).
    """
    global _collector_pause_allowed
    _collector_pause_allowed = allowed


class BackgroundParser:
    """Iterate over lists of Parsed, produced by a thread; use as a context manager.

    Exceptions of the parsing thread (e.g. UnreadableFile) are raised in the consumer, at
    the point in the file where they happened. Leaving the block early stops the thread.
    """

    def __init__(
        self, stream: RecordStream, convert: Converter, *, chunk_size: int = 500, depth: int = 8
    ) -> None:
        self._outcomes = parse_records(stream, convert)
        self._chunk_size = chunk_size
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="import-parser", daemon=True)
        self._gc_paused = False

    def __enter__(self) -> BackgroundParser:
        if _collector_pause_allowed:
            _cyclic_gc_paused.__enter__()
            self._gc_paused = True
        try:
            self._thread.start()
        except BaseException:
            self._resume_collector()
            raise
        return self

    def _resume_collector(self) -> None:
        if self._gc_paused:
            self._gc_paused = False
            _cyclic_gc_paused.__exit__(None, None, None)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        try:
            self._thread.join()
        finally:
            self._resume_collector()

    def __iter__(self) -> Iterator[list[Parsed]]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item

    def _produce(self) -> None:
        try:
            chunk: list[Parsed] = []
            for parsed in self._outcomes:
                chunk.append(parsed)
                if len(chunk) >= self._chunk_size:
                    if not self._put(chunk):
                        return
                    chunk = []
            if self._put(chunk):
                self._put(_END)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put(_Failure(exc))
        finally:
            self._outcomes.close()  # closes the file now, not at garbage collection

    def _put(self, item: object) -> bool:
        """Hand over one item; False when the consumer has gone."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False
