"""The plan of the gateway process itself: its admin API, health history, access log and limits.

Rules of this module: as `plan.py`, of which it is the part no route or probe reads: frozen
dataclasses compiled from the validated model; file paths resolved against the configuration's
folder; the admin token resolved once, here (a token that went bad since validation is an error,
never an open API).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from probegate.config import certs, syntax, tokens
from probegate.config import model as m
from probegate.config.load import LoadedConfig
from probegate.errors import ConfigError, ConfigIssue


@dataclass(frozen=True, slots=True)
class AdminPlan:
    bind_address: str
    port: int
    token: str | None  # as resolved: from the file, the environment or the token file
    allowed_hosts: tuple[str, ...] = ()  # lower case, without brackets or a trailing dot


def admin_plan(item: m.Admin, base_dir: Path) -> AdminPlan:
    token = tokens.resolve(
        item.token, item.token_file, base_dir, loopback=syntax.is_loopback(item.bind_address)
    )
    if isinstance(token, tokens.TokenProblem):  # changed since it was validated: never run open
        raise ConfigError([ConfigIssue(token.path, token.message)])
    hosts = tuple(h.strip("[]").removesuffix(".").lower() for h in item.allowed_hosts)
    return AdminPlan(item.bind_address, item.port, token, hosts)


@dataclass(frozen=True, slots=True)
class HistoryPlan:
    path: Path | None  # None: in memory only (":memory:")
    retention_days: int


@dataclass(frozen=True, slots=True)
class AccessLogPlan:
    enabled: bool
    path: Path | None  # None: standard output


def access_log_plan(item: m.AccessLog, base_dir: Path) -> AccessLogPlan:
    path = None if item.path == "-" else certs.resolve(base_dir, item.path)
    return AccessLogPlan(item.enabled, path)


def history_plan(item: m.History, loaded: LoadedConfig) -> HistoryPlan:
    """Beside the configuration file by default, named after it (two gateways configured in one
    folder keep two histories)."""
    if item.path == ":memory:":
        return HistoryPlan(None, item.retention_days)
    if item.path is not None:
        return HistoryPlan(certs.resolve(loaded.base_dir, item.path), item.retention_days)
    name = Path(loaded.source).name if loaded.source else "probegate"
    return HistoryPlan(loaded.base_dir / f"{name}.history.sqlite", item.retention_days)


@dataclass(frozen=True, slots=True)
class Limits:
    max_body: int | None  # bytes; None: no limit
    header_timeout: float
    body_timeout: float
    keep_alive_timeout: float
    max_connections: int
    stop_timeout: float


def limits_plan(item: m.Limits) -> Limits:
    size = item.max_request_body_size_in_mb
    return Limits(
        max_body=size * 1024 * 1024 if size else None,
        header_timeout=float(item.request_header_timeout_in_sec),
        body_timeout=float(item.request_body_timeout_in_sec),
        keep_alive_timeout=float(item.keep_alive_timeout_in_sec),
        max_connections=item.max_connections,
        stop_timeout=float(item.drain_timeout_on_stop_in_sec),
    )
