"""Rewrite rule sets as the runtime reads them: variables, compiled patterns, value templates.

Rules of this module:
- values and pure functions only (no pydantic, no I/O): `compile.py` builds `RewriteSet`s from
  the model, `rewrite_rules.py` reports what cannot be built, the proxy evaluates them;
- every pattern is compiled by RE2 (google-re2), whose matching time is linear in the input: a
  pattern from the file can never make the gateway spin on a hostile header. RE2 has no
  backreferences, lookarounds or atomic groups; such a pattern is refused at validation;
- a variable is `http_req_<Header>`, `http_resp_<Header>` or `var_<server variable>`; in a value,
  `{variable}` is its whole value and `{variable_<n>}` the n-th group its condition captured in the
  same rewrite rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import re2

SERVER_VARIABLES = frozenset(
    {
        "add_x_forwarded_for_proxy",
        "ciphers_supported",
        "ciphers_used",
        "client_certificate",
        "client_certificate_end_date",
        "client_certificate_fingerprint",
        "client_certificate_issuer",
        "client_certificate_serial",
        "client_certificate_start_date",
        "client_certificate_subject",
        "client_certificate_verification",
        "client_ip",
        "client_port",
        "client_tcp_rtt",
        "client_user",
        "host",
        "http_method",
        "http_status",
        "http_version",
        "query_string",
        "received_bytes",
        "request_query",
        "request_scheme",
        "request_uri",
        "sent_bytes",
        "server_port",
        "ssl_connection_protocol",
        "ssl_enabled",
        "uri_path",
    }
)
RESPONSE_VARIABLES = frozenset({"http_status", "sent_bytes"})  # known once the backend answered
COOKIE = "cookie_"
# Headers no rewrite may touch: the gateway owns the connection and the framing.
UNTOUCHABLE = frozenset({"connection", "upgrade", "content-length", "transfer-encoding"})
_TOKEN = re.compile(r"\{((?:http_req_|http_resp_|var_)[A-Za-z0-9_\-]+)\}")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z\-]+")


class Kind(StrEnum):
    REQUEST = "http_req_"
    RESPONSE = "http_resp_"
    SERVER = "var_"


@dataclass(frozen=True, slots=True)
class Variable:
    kind: Kind
    name: str  # header names lower-cased; a server variable as named (cookie names keep case)
    text: str  # as written in the file

    @property
    def on_response(self) -> bool:
        """Known only once the backend answered: a response header, http_status, sent_bytes."""
        return self.kind is Kind.RESPONSE or (
            self.kind is Kind.SERVER and self.name in RESPONSE_VARIABLES
        )


@dataclass(frozen=True, slots=True)
class Ref:
    """`{variable}` (group None) or `{variable_<n>}` (the n-th captured group) in a value."""

    variable: Variable
    group: int | None


Template = tuple[str | Ref, ...]


class Matcher(Protocol):
    def search(self, text: str) -> Any: ...


@dataclass(frozen=True, slots=True)
class Condition:
    variable: Variable
    pattern: str
    regex: Matcher
    negate: bool
    ignore_case: bool


@dataclass(frozen=True, slots=True)
class HeaderAction:
    name: str  # as written (the header line sent uses it)
    value: Template | None  # None: delete the header


@dataclass(frozen=True, slots=True)
class UrlAction:
    path: Template | None  # None: the path is kept
    query: Template | None  # None: the query string is kept
    reroute: bool


@dataclass(frozen=True, slots=True)
class RewriteRule:
    name: str
    sequence: int
    conditions: tuple[Condition, ...]
    request_headers: tuple[HeaderAction, ...]
    response_headers: tuple[HeaderAction, ...]
    url: UrlAction | None

    @property
    def on_response(self) -> bool:
        """Its conditions read the response: it is evaluated when the backend answers."""
        return any(c.variable.on_response for c in self.conditions)


@dataclass(frozen=True, slots=True)
class RewriteSet:
    name: str
    rules: tuple[RewriteRule, ...]  # by ruleSequence, ties in listed order
    has_response: bool  # some rule acts on response headers


def make_set(name: str, rules: list[RewriteRule]) -> RewriteSet:
    ordered = tuple(sorted(rules, key=lambda r: r.sequence))  # sorted() is stable: ties keep order
    return RewriteSet(name, ordered, any(r.response_headers for r in ordered))


# ------------------------------------------------------------------------ parsing


def parse_variable(text: str) -> Variable | str:
    """A condition's variable, or what is wrong with it."""
    for kind in Kind:
        if text.startswith(kind.value):
            name = text[len(kind.value) :]
            break
    else:
        return (
            f"'{text}' is not a variable: use http_req_<Header>, http_resp_<Header> or "
            "var_<server variable>"
        )
    if kind is not Kind.SERVER:
        if not _HEADER_NAME.fullmatch(name):
            return f"'{name}' is not a header name"
        return Variable(kind, name.lower(), text)
    if name in SERVER_VARIABLES or (name.startswith(COOKIE) and len(name) > len(COOKIE)):
        return Variable(kind, name, text)
    return f"'{name}' is not a server variable (known: {', '.join(sorted(SERVER_VARIABLES))}, cookie_<name>)"


def compile_pattern(pattern: str, ignore_case: bool) -> Matcher | str:
    """The pattern compiled by RE2, or why it cannot be (a construct that needs backtracking)."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    try:
        compiled: Matcher = re2.compile(pattern, options)
    except re2.error as problem:
        detail = problem.args[0] if problem.args else problem
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return (
            f"pattern {pattern!r} cannot be matched in linear time ({detail}); probegate matches "
            "with RE2, which has no backreferences, lookahead/lookbehind or atomic groups: "
            "write it without them"
        )
    return compiled


def parse_template(text: str, captured: dict[str, Variable]) -> Template | str:
    """A header value or URL part: literal text and `{variable}` / `{variable_<n>}` references.
    `captured` maps the variables this rule's conditions read (as written, lower-cased for
    headers) to their parsed form: only those have groups to refer to."""
    parts: list[str | Ref] = []
    position = 0
    for found in _TOKEN.finditer(text):
        if found.start() > position:
            parts.append(text[position : found.start()])
        ref = _reference(found.group(1), captured)
        if isinstance(ref, str):
            return ref
        parts.append(ref)
        position = found.end()
    if position < len(text):
        parts.append(text[position:])
    return tuple(parts)


def _reference(token: str, captured: dict[str, Variable]) -> Ref | str:
    base, underscore, digits = token.rpartition("_")
    if underscore and digits.isdigit():
        variable = captured.get(_key(base))
        if variable is not None:
            return Ref(variable, int(digits))
    parsed = parse_variable(token)
    if isinstance(parsed, str):
        return f"{{{token}}}: {parsed}"
    return Ref(parsed, None)


def _key(text: str) -> str:
    for kind in (Kind.REQUEST, Kind.RESPONSE):
        if text.startswith(kind.value):
            return text.lower()
    return text


def condition_key(variable: Variable) -> str:
    return _key(variable.text)


def header_problem(name: str, value: str, *, request: bool) -> str | None:
    """What the model (and the gateway's framing) refuses of a header action."""
    if not _HEADER_NAME.fullmatch(name):
        return f"'{name}' is not a header name"
    lowered = name.lower()
    if lowered in UNTOUCHABLE:
        return f"the {name} header cannot be rewritten: the gateway owns the connection and framing"
    if request and lowered == "host" and not value:
        return "the Host header cannot be deleted (give it a value to replace it)"
    if "\r" in value or "\n" in value or "\0" in value:
        return "a header value cannot hold CR, LF or NUL"
    return None


def references(template: Template) -> list[Ref]:
    return [p for p in template if isinstance(p, Ref)]
