"""The body of `POST /backendhealth/ondemand`: its definition, its parser and its JSON Schema.

Rules of this module:
- the body is the model's on-demand probe request (camelCase); anything unknown, of the wrong
  type, too long, or that cannot go on the wire is an OnDemandError naming the key;
- the parser and the schema the OpenAPI document publishes are built from the same patterns and
  limits below, so a value the document allows is one the parser takes, and the other way round.
"""

from __future__ import annotations

import re
from typing import Any

from probegate.config import syntax
from probegate.config.plan import Protocol
from probegate.health.ondemand import OnDemandError, Overrides

KNOWN = {
    "backendAddressPool", "backendHttpSettings", "protocol", "host", "path", "timeout",
    "pickHostNameFromBackendHttpSettings", "match", "headers",
}  # fmt: skip
MAX_HEADERS = 32
MAX_HOST = 253
MAX_MATCH_BODY = 4090  # as in the configuration (SPEC section 1)
MAX_STATUS_CODES = 20
MAX_NAME = 1024  # a name or a resource id; the names themselves are at most 80 characters


def _ranges() -> str:
    """`NNN` or `NNN-NNN` within 100-599 with the low end first, as one regular expression (a
    backwards range is no more valid in the document than in the parser)."""
    single = "[1-5][0-9][0-9]"
    by_hundreds = [f"{a}[0-9][0-9]-[{a + 1}-5][0-9][0-9]" for a in range(1, 5)]
    by_tens = [f"{a}{b}[0-9]-{a}[{b + 1}-9][0-9]" for a in range(1, 6) for b in range(9)]
    by_ones = [
        f"{a}{b}{c}-{a}{b}[{c}-9]" for a in range(1, 6) for b in range(10) for c in range(10)
    ]
    return "(?:" + "|".join([single, *by_hundreds, *by_tens, *by_ones]) + ")"


def _ipv6() -> str:
    """RFC 3986 `IPv6address` (no zone), the forms Python's `ipaddress` reads too."""
    h16, octet = "[0-9A-Fa-f]{1,4}", "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
    ls32 = rf"(?:{h16}:{h16}|{octet}(?:\.{octet}){{3}})"
    forms = [rf"(?:{h16}:){{6}}{ls32}", rf"::(?:{h16}:){{5}}{ls32}"]
    for before, after in ((0, 4), (1, 3), (2, 2), (3, 1), (4, 0)):
        head = rf"(?:(?:{h16}:){{0,{before}}}{h16})?"
        forms.append(rf"{head}::(?:{h16}:){{{after}}}{ls32}")
    forms.append(rf"(?:(?:{h16}:){{0,5}}{h16})?::{h16}")
    forms.append(rf"(?:(?:{h16}:){{0,6}}{h16})?::")
    return "(?:" + "|".join(forms) + ")"


_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HOST_PATTERN = rf"(?:(?:{_LABEL}\.)*{_LABEL}\.?|{_ipv6()})"  # IPv4 is a name of digit labels
PATH_PATTERN = "/[!-~]*"  # visible ASCII: what a request line carries as it is
STATUS_PATTERN = _ranges()
PROTOCOL_PATTERN = "[Hh][Tt][Tt][Pp][Ss]?"  # Http or Https, in any letter case
_HOST, _PATH, _STATUS, _PROTOCOL = (
    re.compile(p) for p in (HOST_PATTERN, PATH_PATTERN, STATUS_PATTERN, PROTOCOL_PATTERN)
)


def _name(value: object, key: str) -> str:
    if isinstance(value, dict) and isinstance(value.get("name"), str):
        name = str(value["name"])  # the model's {"id": …, "name": …} reference shape
    elif isinstance(value, dict) and isinstance(value.get("id"), str):
        name = str(value["id"]).rstrip("/").rsplit("/", 1)[-1]
    elif isinstance(value, str) and value:
        name = value
    else:
        raise OnDemandError(f"'{key}' is required: a name, or an object with 'name' or 'id'")
    if len(name) > MAX_NAME:
        raise OnDemandError(f"'{key}' must be at most {MAX_NAME} characters, got {len(name)}")
    return name


def _optional(body: dict[str, Any], key: str, kind: type) -> Any:
    """The value of `key` if given (None if absent); `null` is no value of any kind here."""
    if key not in body:
        return None
    value = body[key]
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)  # JSON does not tell 5 from 5.0
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        got = "null" if value is None else syntax.shown(repr(value))
        raise OnDemandError(f"'{key}' must be a {_KINDS[kind]}, got {got}")
    return value


_KINDS = {str: "string", int: "integer", bool: "boolean", dict: "object", list: "list"}


def parse_ondemand(body: object, max_timeout: int = 86400) -> tuple[str, str, Overrides]:
    if not isinstance(body, dict):
        raise OnDemandError("the body must be a JSON object")
    unknown = sorted(set(body) - KNOWN)
    if unknown:
        raise OnDemandError(f"unknown key {syntax.shown(unknown[0])}")
    pool = _name(body.get("backendAddressPool"), "backendAddressPool")
    settings = _name(body.get("backendHttpSettings"), "backendHttpSettings")
    return pool, settings, _overrides(body, max_timeout)


def _overrides(body: dict[str, Any], max_timeout: int) -> Overrides:
    protocol = _optional(body, "protocol", str)
    if protocol is not None and not _PROTOCOL.fullmatch(protocol):
        raise OnDemandError(f"'protocol' must be Http or Https, got {syntax.shown(protocol)}")
    host = _optional(body, "host", str)
    if host is not None and (problem := _host_problem(host)):
        raise OnDemandError(f"'host': {problem}")
    path = _optional(body, "path", str)
    if path is not None and (problem := syntax.probe_path_problem(path)):
        raise OnDemandError(f"'path' {problem}")
    timeout = _optional(body, "timeout", int)
    if timeout is not None and not 1 <= timeout <= max_timeout:
        raise OnDemandError(
            f"'timeout' must be between 1 and {max_timeout} (the longest probe timeout "
            f"configured), got {timeout}"
        )
    codes, match_body = _match(_optional(body, "match", dict) or {})  # {} when absent
    headers = _headers(_optional(body, "headers", list))
    return Overrides(
        protocol=(Protocol.HTTPS if protocol.lower() == "https" else Protocol.HTTP)
        if protocol
        else None,
        host=host,
        path=path,
        timeout=timeout,
        pick_host_name_from_backend_http_settings=_optional(
            body, "pickHostNameFromBackendHttpSettings", bool
        ),
        status_codes=codes,
        body=match_body,
        headers=headers,
    )


def _headers(given: list[Any] | None) -> tuple[tuple[str, str], ...] | None:
    """`headers`: [{"name", "value"}], checked as the configuration's probe headers are."""
    if given is None:
        return None
    if len(given) > MAX_HEADERS:
        raise OnDemandError(f"'headers' takes at most {MAX_HEADERS} entries, got {len(given)}")
    found: list[tuple[str, str]] = []
    for i, header in enumerate(given):
        if not isinstance(header, dict) or set(header) != {"name", "value"}:
            raise OnDemandError(f'\'headers[{i}]\' must be {{"name": …, "value": …}}')
        name, value = header["name"], header["value"]
        if not isinstance(name, str) or not isinstance(value, str):
            raise OnDemandError(f"'headers[{i}]': name and value are strings")
        if problem := syntax.probe_header_problem(name, value):
            raise OnDemandError(f"'headers[{i}].{problem[0]}' {problem[1]}")
        found.append((name, value))
    return tuple(found)


def _host_problem(host: str) -> str | None:
    if problem := syntax.host_problem(host):
        return problem
    if len(host) > MAX_HOST or not _HOST.fullmatch(host):
        return f"{syntax.shown(host)} is not a host name or an IP address"
    return None


def _match(match: dict[str, Any]) -> tuple[tuple[str, ...] | None, str | None]:
    if unknown := sorted(set(match) - {"statusCodes", "body"}):
        raise OnDemandError(f"unknown key {syntax.shown('match.' + unknown[0])}")
    codes = _optional(match, "statusCodes", list)
    if codes is not None and not (
        isinstance(codes, list)
        and 1 <= len(codes) <= MAX_STATUS_CODES
        and all(isinstance(c, str) and _STATUS.fullmatch(c) for c in codes)
    ):
        raise OnDemandError(
            f"'match.statusCodes' must be a list of 1 to {MAX_STATUS_CODES} statuses 'NNN' or "
            "ranges 'NNN-NNN' within 100-599, low end first"
        )
    body = _optional(match, "body", str)
    if body is not None and len(body) > MAX_MATCH_BODY:
        raise OnDemandError(f"'match.body' must be a string of at most {MAX_MATCH_BODY} characters")
    return (tuple(codes) if codes is not None else None), body


# ------------------------------------------------------------------------ the JSON Schema


def _reference(names: list[str]) -> dict[str, Any]:
    """A name, `{"name": …}`, or `{"id": …}` whose last segment is the name (as `_name` reads
    it, so an Azure resource id works too)."""
    name: dict[str, Any] = {"type": "string", "enum": names} if names else {"type": "string"}
    # Names are letters, digits, '_', '.' and '-' (config/syntax.py): only '.' needs escaping.
    last = "|".join(n.replace(".", r"\.") for n in names) if names else "[^/]+"
    resource_id = {
        "type": "string",
        "maxLength": MAX_NAME,
        "pattern": rf"^(?:[\s\S]*/)?(?:{last})/*$",
    }
    return {
        "anyOf": [
            name,
            {"type": "object", "required": ["name"], "properties": {"name": name}},
            {
                "type": "object",
                "required": ["id"],
                "properties": {"id": resource_id, "name": {"not": {"type": "string"}}},
            },
        ],
        "description": "A name, or the model's reference object (`name`, else the last "
        "segment of `id`)",
    }


def _either_case(name: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in name)


# The header names a probe sets itself, in any letter case (JSON Schema patterns have no flags).
_OWN_HEADERS_PATTERN = (
    "^(" + "|".join(_either_case(n) for n in sorted(syntax.PROBE_OWN_HEADERS)) + ")$"
)


def request_schema(pools: list[str], settings: list[str], max_timeout: int) -> dict[str, Any]:
    """The JSON Schema of the body, for the configuration's pool and settings names."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["backendAddressPool", "backendHttpSettings"],
        "properties": {
            "backendAddressPool": _reference(pools),
            "backendHttpSettings": _reference(settings),
            "protocol": {"type": "string", "pattern": f"^{PROTOCOL_PATTERN}$"},
            "host": {"type": "string", "maxLength": MAX_HOST, "pattern": f"^{HOST_PATTERN}$"},
            "path": {
                "type": "string",
                "maxLength": syntax.MAX_PATH,
                "pattern": f"^{PATH_PATTERN}$",
            },
            "timeout": {"type": "integer", "minimum": 1, "maximum": max_timeout},
            "pickHostNameFromBackendHttpSettings": {"type": "boolean"},
            "headers": {
                "type": "array",
                "maxItems": MAX_HEADERS,
                "description": "Request headers the probe sends (not Host, hop-by-hop or framing)",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "value"],
                    "properties": {
                        "name": {
                            "type": "string",
                            "pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$",
                            "not": {"pattern": _OWN_HEADERS_PATTERN},
                        },
                        "value": {
                            "type": "string",
                            "maxLength": syntax.MAX_HEADER_VALUE,
                            "pattern": "^([!-~]([ \t!-~]*[!-~])?)?$",
                        },
                    },
                },
            },
            "match": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "statusCodes": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_STATUS_CODES,
                        "items": {"type": "string", "pattern": f"^{STATUS_PATTERN}$"},
                    },
                    "body": {"type": "string", "maxLength": MAX_MATCH_BODY},
                },
            },
        },
    }
