"""The access log: one JSON object per request, with the model's access-log field names.

Rules of this module:
- the data path only appends a tuple of values it already has (no formatting, no I/O); the
  proxy's tick hands the batch to a writer thread, which formats and writes it, so a slow disk
  or a full pipe never stalls the event loop;
- the queue to the writer is bounded: if the writer falls that far behind, batches are dropped
  and the number dropped is written as a log line of its own, never silently;
- field names follow Azure Application Gateway's access log (`clientIP`, `httpStatus`,
  `serverRouted`, `transactionId`, ...); times are in seconds, as that log has them.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from probegate.proxy.contracts import Logged

MAX_PENDING_BATCHES = 256

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
        stream: IO[str] = sys.stdout if self._path is None else self._open()
        try:
            while (batch := self._queue.get()) is not None:
                if self._reopen and stream is not sys.stdout:
                    self._reopen = False
                    stream.close()
                    stream = self._open()
                lines = [format_entry(entry) for entry in batch]
                if self._dropped:
                    dropped, self._dropped = self._dropped, 0
                    lines.append(json.dumps({"accessLogDropped": dropped}))
                stream.write("\n".join(lines) + "\n")
                stream.flush()
        finally:
            if stream is not sys.stdout:
                stream.close()

    def _open(self) -> IO[str]:
        assert self._path is not None
        return self._path.open("a", encoding="utf-8")


def format_entry(entry: Entry) -> str:
    record = dict(zip(FIELDS, entry, strict=True))
    stamp = record["timeStamp"]
    assert isinstance(stamp, float)
    record["timeStamp"] = datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")
    for name, value in record.items():
        if isinstance(value, bytes):
            record[name] = value.decode("latin-1")
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
