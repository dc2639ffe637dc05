"""The access log: one JSON object per request, with the model's access-log field names.

Rules of this module:
- the data path only appends a tuple of values it already has (no formatting, no I/O); the
  proxy's tick hands the batch to a writer thread, which formats and writes it, so a slow disk
  or a full pipe never stalls the event loop;
- the queue to the writer is bounded: if the writer falls that far behind, batches are dropped
  and the number dropped is written as a log line of its own, never silently;
- every write() carries whole lines (`_Output`): worker processes share one log, line by line;
- field names follow Azure Application Gateway's access log (`clientIP`, `httpStatus`,
  `serverRouted`, `transactionId`, ...); times are in seconds, as that log has them.
"""

from __future__ import annotations

import io
import json
import os
import queue
import select
import stat
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from probegate.proxy.contracts import Logged

MAX_PENDING_BATCHES = 256
PIPE_CHUNK = select.PIPE_BUF  # bytes a pipe writes whole (4096 on Linux)
FILE_CHUNK = 1 << 16

# One entry, in this order (`access_entry` builds the tuple; the writer names the fields).
FIELDS = (
    "timeStamp",
    "listenerName",
    "ruleName",
    "backendPoolName",
    "backendSettingName",
    "clientIP",
    "clientPort",
    "httpMethod",
    "requestUri",
    "originalRequestUriWithArgs",
    "httpVersion",
    "httpStatus",
    "receivedBytes",
    "sentBytes",
    "timeTaken",
    "sslEnabled",
    "serverRouted",
    "serverStatus",
    "serverResponseLatency",
    "host",
    "originalHost",
    "transactionId",
    "error_info",
)

Entry = tuple[object, ...]


def access_entry(exchange: Logged, status: int) -> Entry:
    """The values of one access-log line, in `FIELDS` order (formatted by the writer)."""
    client = exchange.client
    info = exchange.info
    upstream = exchange.upstream
    backend = info.backend if info is not None else None
    now = time.monotonic()
    received = len(exchange.url) + exchange.head_size + exchange.body_size
    rewritten = exchange.rewritten
    uri = rewritten.uri if rewritten is not None and rewritten.uri is not None else exchange.path
    return (
        time.time(),
        info.route.listener.name if info is not None else "",
        info.route.rule if info is not None else "",
        backend.pool if backend is not None else "",
        backend.settings if backend is not None else "",
        client.peer_ip,
        client.peer_port,
        exchange.method,
        uri,  # as forwarded: a URL rewrite's path and query string
        exchange.url,  # as received
        f"HTTP/{exchange.version}",
        status,
        received,
        exchange.sent_bytes,
        round(now - exchange.started, 6) if exchange.started else 0.0,
        client.scheme == b"https",
        upstream.key.server if upstream is not None and exchange.status else "",
        exchange.status or "",
        round(exchange.latency, 6),
        exchange.host or b"",
        exchange.authority or exchange.host or b"",
        exchange.trace,
        exchange.error_info,
    )


class AccessLog:
    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._batch: list[Entry] = []
        self._queue: queue.Queue[list[Entry] | None] = queue.Queue(MAX_PENDING_BATCHES)
        self._dropped = 0
        self._reopen = False  # set by SIGUSR1 (log rotation): the writer reopens the path
        self._thread = threading.Thread(target=self._write_all, name="access-log", daemon=True)
        self._thread.start()

    def add(self, entry: Entry) -> None:
        self._batch.append(entry)

    def flush(self) -> None:
        """Hand the entries gathered since the last call to the writer (called by the tick)."""
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            self._dropped += len(batch)

    def reopen(self) -> None:
        """After `mv access.jsonl access.jsonl.1` (logrotate, SIGUSR1): write to a fresh file at
        the configured path from the next batch on, as nginx does. Standard output stays."""
        self._reopen = True

    def close(self) -> None:
        self.flush()
        self._queue.put(None)
        self._thread.join(5)

    # ------------------------------------------------------------------ the writer thread

    def _write_all(self) -> None:
        out = self._open()
        try:
            while (batch := self._queue.get()) is not None:
                if self._reopen and self._path is not None:
                    self._reopen = False
                    out.close()
                    out = self._open()
                lines = [format_entry(entry) for entry in batch]
                if self._dropped:
                    dropped, self._dropped = self._dropped, 0
                    lines.append(json.dumps({"accessLogDropped": dropped}))
                out.write(lines)
        finally:
            out.close()

    def _open(self) -> _Output:
        if self._path is None:
            return _Output(None)
        return _Output(self._path.open("ab", buffering=0))


class _Output:
    """Where the writer thread puts lines: whole lines in every write() call, so the lines of
    several worker processes sharing the file or standard output never mix inside a line. A
    file is opened for appending (each write lands whole at its end); a pipe keeps a write of
    at most PIPE_BUF bytes whole, so lines go out in chunks of that size (a longer line alone)."""

    def __init__(self, file: IO[bytes] | None) -> None:
        self._file = file
        self._fd: int | None = None
        self._text: IO[str] | None = None
        self._chunk = PIPE_CHUNK
        try:
            if file is not None:
                self._fd = file.fileno()
            else:
                sys.stdout.flush()
                self._fd = sys.stdout.fileno()
            if stat.S_ISREG(os.fstat(self._fd).st_mode):
                self._chunk = FILE_CHUNK
        except (OSError, ValueError, io.UnsupportedOperation):
            self._fd = None  # standard output replaced by a stream without a descriptor
            self._text = sys.stdout

    def write(self, lines: list[str]) -> None:
        if self._fd is None:
            assert self._text is not None
            self._text.write("\n".join(lines) + "\n")
            self._text.flush()
            return
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            data = line.encode("utf-8") + b"\n"
            if chunk and size + len(data) > self._chunk:
                self._put(b"".join(chunk))
                chunk, size = [], 0
            chunk.append(data)
            size += len(data)
        if chunk:
            self._put(b"".join(chunk))

    def _put(self, data: bytes) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._fd, view)
            except InterruptedError:
                continue
            except OSError:
                return  # a closed standard output: the lines have nowhere to go
            view = view[written:]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def format_entry(entry: Entry) -> str:
    record = dict(zip(FIELDS, entry, strict=True))
    stamp = record["timeStamp"]
    assert isinstance(stamp, float)
    record["timeStamp"] = datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")
    for name, value in record.items():
        if isinstance(value, bytes):
            record[name] = value.decode("latin-1")
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
