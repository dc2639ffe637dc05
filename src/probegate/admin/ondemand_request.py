"""Parsing the body of `POST /backendhealth/ondemand` into overrides, with clear errors.

Rules: the body is the model's on-demand probe request (camelCase); anything unknown or of the
wrong type is an OnDemandError naming the key.
"""

from __future__ import annotations

from typing import Any

from probegate.config import syntax
from probegate.config.plan import Protocol
from probegate.health.ondemand import OnDemandError, Overrides

KNOWN = {
    "backendAddressPool", "backendHttpSettings", "protocol", "host", "path", "timeout",
    "pickHostNameFromBackendHttpSettings", "match",
}  # fmt: skip


def _name(value: object, key: str) -> str:
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        return str(value["name"])  # the model's {"id": …, "name": …} reference shape
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"]).rstrip("/").rsplit("/", 1)[-1]
    if isinstance(value, str) and value:
        return value
    raise OnDemandError(f"'{key}' is required: a name, or an object with 'name' or 'id'")


def _optional(body: dict[str, Any], key: str, kind: type) -> Any:
    value = body.get(key)
    wrong = not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)
    if value is not None and wrong:
        raise OnDemandError(f"'{key}' must be a {kind.__name__}, got {value!r}")
    return value


def parse_ondemand(body: object) -> tuple[str, str, Overrides]:
    if not isinstance(body, dict):
        raise OnDemandError("the body must be a JSON object")
    unknown = sorted(set(body) - KNOWN)
    if unknown:
        raise OnDemandError(f"unknown key '{unknown[0]}'")
    pool = _name(body.get("backendAddressPool"), "backendAddressPool")
    settings = _name(body.get("backendHttpSettings"), "backendHttpSettings")
    return pool, settings, _overrides(body)


def _overrides(body: dict[str, Any]) -> Overrides:
    protocol = _optional(body, "protocol", str)
    if protocol is not None and protocol.casefold() not in ("http", "https"):
        raise OnDemandError(f"'protocol' must be Http or Https, got '{protocol}'")
    host = _optional(body, "host", str)
    if host is not None and (problem := syntax.host_problem(host)):
        raise OnDemandError(f"'host': {problem}")
    path = _optional(body, "path", str)
    if path is not None and (problem := syntax.backend_path_problem(path)):
        raise OnDemandError(f"'path' {problem}")
    timeout = _optional(body, "timeout", int)
    if timeout is not None and not 1 <= timeout <= 86400:
        raise OnDemandError(f"'timeout' must be between 1 and 86400, got {timeout}")
    match = _optional(body, "match", dict) or {}
    if unknown := sorted(set(match) - {"statusCodes", "body"}):
        raise OnDemandError(f"unknown key 'match.{unknown[0]}'")
    codes = match.get("statusCodes")
    if codes is not None and not (
        isinstance(codes, list) and all(isinstance(c, str) for c in codes)
    ):
        raise OnDemandError("'match.statusCodes' must be a list of strings like \"200-399\"")
    match_body = match.get("body")
    if match_body is not None and not isinstance(match_body, str):
        raise OnDemandError("'match.body' must be a string")
    return Overrides(
        protocol=Protocol.HTTPS
        if protocol and protocol.casefold() == "https"
        else (Protocol.HTTP if protocol else None),
        host=host,
        path=path,
        timeout=timeout,
        pick_host_name_from_backend_http_settings=_optional(
            body, "pickHostNameFromBackendHttpSettings", bool
        ),
        status_codes=tuple(codes) if codes is not None else None,
        body=match_body,
    )
