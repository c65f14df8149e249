"""Streaming rows into PostgreSQL with ``COPY ... FROM STDIN`` (text format).

Each :class:`CopyStream` owns one connection and one background thread running
``cursor.copy_expert``; the generator (main thread) formats rows into ~1 MB
chunks and hands them over through a small bounded queue. psycopg2 releases
the GIL while it sends, so Python builds the next chunk while the server
parses and indexes the previous one on the other core, and memory stays flat
however many rows go through.
"""

from __future__ import annotations

import io
import json
import queue
import threading
from datetime import UTC, datetime

import psycopg2

NULL = "\\N"
_EOF = object()
_ABORT = object()
_DAY = 86_400
_day_prefix: dict[int, str] = {}
#: "HH:MM:SS+00" for every second of a day: formatting a timestamp is two lookups.
_TIME_OF_DAY = [f" {h:02d}:{m:02d}:{s:02d}+00" for h in range(24) for m in range(60) for s in range(60)]


def _columns(columns: list[str]) -> str:
    return ", ".join(f'"{column}"' for column in columns)


def esc(value: str) -> str:
    """A text value for COPY's text format (backslash, tab, newline, CR escaped)."""
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\n" in value:
        value = value.replace("\n", "\\n")
    if "\t" in value:
        value = value.replace("\t", "\\t")
    if "\r" in value:
        value = value.replace("\r", "\\r")
    return value


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def jsonb(value) -> str:
    """JSON as COPY text: JSON never holds a raw tab or newline, only backslashes to double."""
    if not value:
        return "{}"
    text = _dumps(value)
    return text.replace("\\", "\\\\") if "\\" in text else text


def ts(seconds: float | int | None) -> str:
    """An epoch timestamp (UTC) as COPY text, or NULL. Whole seconds are enough here."""
    if seconds is None:
        return NULL
    day, rest = divmod(int(seconds), _DAY)
    prefix = _day_prefix.get(day)
    if prefix is None:
        prefix = _day_prefix[day] = datetime.fromtimestamp(day * _DAY, UTC).strftime("%Y-%m-%d")
    return prefix + _TIME_OF_DAY[rest]


def opt(value) -> str:
    """An optional integer (foreign key) as COPY text."""
    return NULL if value is None else str(value)


def flag(value: bool) -> str:
    return "t" if value else "f"


class _QueueReader:
    """The file ``copy_expert`` reads: chunks from the producer until EOF."""

    def __init__(self, chunks: queue.Queue):
        self.chunks = chunks

    def read(self, size: int = -1) -> str:  # psycopg2 sends whatever one read returns
        chunk = self.chunks.get()
        if chunk is _EOF:
            return ""
        if chunk is _ABORT:
            raise RuntimeError("generator aborted")
        return chunk


class CopyStream:
    """``COPY table (columns) FROM STDIN`` on its own connection, fed row by row.

    Call :meth:`row` with already formatted column strings, then :meth:`close`
    (sends the end of data) and :meth:`commit`. Rows are visible to others only
    after ``commit``. Foreign-key triggers are skipped (``session_replication_role
    = replica``) when the role allows it; ``verify_foreign_keys`` checks the
    result afterwards.
    """

    CHUNK_BYTES = 1 << 20

    def __init__(self, dsn: str, table: str, columns: list[str], *, skip_triggers: bool):
        self.table = table
        self.columns = columns
        self.rows = 0
        self._buffer: list[str] = []
        self._size = 0
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._done = threading.Event()
        self._commit = threading.Event()
        self._rollback = False
        self._dsn = dsn
        self._skip_triggers = skip_triggers
        self._thread = threading.Thread(target=self._run, name=f"copy-{table}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        connection = None
        try:
            connection = psycopg2.connect(self._dsn)
            with connection.cursor() as cursor:
                if self._skip_triggers:
                    cursor.execute("SET session_replication_role = replica")
                cursor.execute("SET synchronous_commit = off")
                sql = f"COPY {self.table} ({_columns(self.columns)}) FROM STDIN"
                cursor.copy_expert(sql, _QueueReader(self._queue), size=self.CHUNK_BYTES)
        except BaseException as exc:  # reported to the producer by _check / commit
            self._error = exc
        finally:
            self._done.set()
        if self._error is None:
            self._commit.wait()
        try:
            if connection is not None:
                if self._error is None and not self._rollback:
                    connection.commit()
                else:
                    connection.rollback()
        except BaseException as exc:
            self._error = self._error or exc
        finally:
            if connection is not None:
                connection.close()

    def _check(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"COPY into {self.table} failed: {self._error}") from self._error

    def _put(self, item) -> None:
        while True:
            self._check()
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                if self._done.is_set():
                    self._check()
                    raise RuntimeError(f"COPY into {self.table} stopped reading") from None

    def row(self, *values: str) -> None:
        line = "\t".join(values) + "\n"
        self._buffer.append(line)
        self._size += len(line)
        self.rows += 1
        if self._size >= self.CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self._put("".join(self._buffer))
            self._buffer = []
            self._size = 0

    def close(self) -> None:
        """Send the last rows and the end of data; wait until the server has them all."""
        self.flush()
        self._put(_EOF)
        self._done.wait()
        self._check()

    def commit(self) -> None:
        self._commit.set()
        self._thread.join()
        self._check()

    def abort(self) -> None:
        self._rollback = True
        if not self._done.is_set():
            while True:  # make room, then tell the reader to fail the COPY
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._queue.put_nowait(_ABORT)
        self._commit.set()
        self._thread.join(timeout=30)


def copy_small(cursor, table: str, columns: list[str], rows) -> int:
    """COPY a small table through an existing (psycopg2) cursor, in its transaction."""
    buffer = io.StringIO()
    count = 0
    for values in rows:
        buffer.write("\t".join(values) + "\n")
        count += 1
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({_columns(columns)}) FROM STDIN", buffer)
    return count
