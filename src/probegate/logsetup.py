"""The gateway's own log (stderr): UTC ISO 8601 timestamps, a level, text lines or JSON lines.

Rules of this module:
- timestamps are UTC with the zone (`2026-05-01T12:00:00.123+00:00`), as the access log writes them;
- `--log-level` / `--log-format` on the command line win over the file's `logging:` section, which
  wins over the defaults (info, text);
- JSON lines carry `timeStamp`, `level`, `logger`, `message` (and `exception` when there is one),
  so a log shipper needs no pattern to split them.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}  # fmt: skip
FORMATS = ("text", "json")


@dataclass(frozen=True, slots=True)
class LogOptions:
    """What the command line asked for; None leaves the choice to the file (then the default)."""

    level: str | None = None
    format: str | None = None

    def over(self, level: str | None, format_: str | None) -> LogOptions:
        """These options, with the file's values where the command line gave none."""
        return LogOptions(self.level or level or "info", self.format or format_ or "text")


def stamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{stamp(record.created)} {record.levelname} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "timeStamp": stamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def configure(options: LogOptions, stream: TextIO | None = None) -> None:
    """(Re)configure the root logger: one handler on stderr with the chosen format and level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if options.format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS[options.level or "info"])
