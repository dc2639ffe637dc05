"""Syntax of the small strings a configuration holds: names, hosts, paths, status ranges, resolvers.

Each check returns None when the value is fine, else the message for the operator. Pure functions;
nothing here knows about the rest of the document.
"""

from __future__ import annotations

import ipaddress
import re

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_STATUS = re.compile(r"(\d{3})(?:-(\d{3}))?")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
MAX_PATH = 2048  # characters of a probe or override path; longer is refused, not sent
SHOWN = 60  # characters of a refused value that a message quotes


def shown(value: str) -> str:
    """A value quoted in a message: escaped (no control character reaches a terminal or a log
    line) and cut short (a megabyte is not echoed back)."""
    escaped = value[:SHOWN].encode("ascii", "backslashreplace").decode("ascii")
    return f"'{escaped}'" if len(value) <= SHOWN else f"'{escaped}…' ({len(value)} characters)"


def wire_problem(value: str, *, path: bool = True) -> str | None:
    """Characters that cannot go in a request line or a header as they are: controls (NUL,
    CR, LF, DEL, …), spaces and anything outside ASCII. Refused rather than percent-encoded, so
    what is sent is exactly what the operator wrote; the message shows what to write instead."""
    for i, ch in enumerate(value):
        if "!" <= ch <= "~":
            continue
        what = "a space" if ch == " " else f"U+{ord(ch):04X}"
        if not (ch > "\x7f" and ch.isprintable()):
            return f"must not contain control characters or spaces, got {what} at position {i}"
        if not path:
            return (
                f"holds {what} ('{ch}') at position {i}; write an internationalised name in "
                "its ASCII form ('xn--…')"
            )
        encoded = "".join(c if "!" <= c <= "~" else _percent(c) for c in value)
        return (
            f"holds {what} ('{ch}') at position {i}, which cannot be sent as is; "
            f"write it percent-encoded: {shown(encoded)}"
        )
    return None


def _percent(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8"))


def name_problem(value: str) -> str | None:
    if _NAME.fullmatch(value):
        return None
    return (
        f"'{value}' is not a valid name: use 1 to 80 letters, digits, '_', '.' or '-', "
        "starting with a letter or digit"
    )


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def hostname_problem(value: str) -> str | None:
    """A DNS name (not an IP literal); a trailing dot is allowed."""
    name = value.removesuffix(".")
    if is_ip(value):
        return f"'{value}' is an IP address, not a host name"
    if not name or len(name) > 253 or not all(_LABEL.fullmatch(p) for p in name.split(".")):
        return f"'{value}' is not a valid host name"
    return None


def host_problem(value: str) -> str | None:
    """A host for a Host header or a probe: a DNS name or an IP literal, without a port."""
    if problem := wire_problem(value, path=False):
        return problem
    if "%" in value:
        return f"{shown(value)} must not hold a zone or '%'; it goes in a Host header"
    if is_ip(value):
        return None
    if ":" in value:
        return f"'{value}' must not include a port"
    return hostname_problem(value)


def listener_host_problem(value: str) -> str | None:
    """Multi-site host names: a DNS name, optionally with `*` as the whole leftmost label."""
    rest = value[2:] if value.startswith("*.") else value
    if "*" in rest:
        return f"'{value}' has a wildcard outside the leftmost label; write it as '*.example.com'"
    problem = hostname_problem(rest)
    return None if problem is None else f"'{value}' is not a valid host name"


def backend_path_problem(value: str) -> str | None:
    """A path of the configuration: rule paths (matched against the decoded request path, so
    they may hold any printable character) and the settings' override path."""
    if not value.startswith("/"):
        return f"must start with '/', got {shown(value)}"
    bad = next((i for i, ch in enumerate(value) if ch.isspace() or not ch.isprintable()), None)
    if bad is not None:
        what = "a space" if value[bad] == " " else f"U+{ord(value[bad]):04X}"
        return f"must not contain control characters or spaces, got {what} at position {bad}"
    return None


def probe_path_problem(value: str) -> str | None:
    """A path a probe sends as is in its request line: ASCII, no controls, at most MAX_PATH."""
    if problem := backend_path_problem(value):
        return problem
    if len(value) > MAX_PATH:
        return f"must be at most {MAX_PATH} characters, got {len(value)}"
    return wire_problem(value)


def rule_path_problem(value: str) -> str | None:
    """Path-map paths: start with '/', '*' only as the last character, no query or fragment."""
    problem = backend_path_problem(value)
    if problem:
        return problem
    if "*" in value[:-1]:
        return f"'*' may only be the last character, got '{value}'"
    if "?" in value or "#" in value:
        return f"must not hold a query or fragment, got '{value}'"
    return None


def status_range(value: str) -> tuple[int, int] | str:
    """`200` or `200-399` → (low, high); else the problem."""
    found = _STATUS.fullmatch(value.strip())
    if not found:
        return f"must be a status 'NNN' or a range 'NNN-NNN', got '{value}'"
    low = int(found.group(1))
    high = int(found.group(2) or low)
    if not (100 <= low <= 599 and 100 <= high <= 599):
        return f"status codes must be within 100-599, got '{value}'"
    if low > high:
        return f"the range is backwards, got '{value}'"
    return (low, high)


def resolver_address(value: str) -> tuple[str, int] | str:
    """`127.0.0.53`, `127.0.0.53:5353`, `[::1]:53` → (ip, port); a resolver must be an IP literal."""
    host, port = value, 53
    if value.startswith("["):
        host, _, tail = value[1:].partition("]")
        if tail and not tail.startswith(":"):
            return f"'{value}' is not 'host:port'"
        port_text = tail[1:]
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    else:
        port_text = ""
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            return f"'{value}' has an invalid port"
        port = int(port_text)
    if not is_ip(host):
        return f"'{value}': a DNS server must be an IP address (with an optional port)"
    return (host, port)


def cookie_name_problem(value: str) -> str | None:
    if _TOKEN.fullmatch(value):
        return None
    return f"'{value}' is not a valid cookie name (letters, digits and !#$%&'*+.^_`|~- only)"


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


# Headers a probe sets itself (Host has its own rules; the rest frame or route the exchange).
PROBE_OWN_HEADERS = frozenset(
    {"host", "connection", "keep-alive", "proxy-connection", "te", "trailer",
     "transfer-encoding", "upgrade", "content-length", "expect"}
)  # fmt: skip
MAX_HEADER_VALUE = 4096


def probe_header_problem(name: str, value: str) -> tuple[str, str] | None:
    """A probe request header (probegate extension): (which field, what is wrong), or None."""
    if not _TOKEN.fullmatch(name):
        return (
            "name",
            f"{shown(name)} is not a header name: use letters, digits and !#$%&'*+.^_`|~-",
        )
    if name.lower() == "host":
        return (
            "name",
            "Host is not set here: the probe's host (or pickHostNameFromBackendHttpSettings) decides it",
        )
    if name.lower() in PROBE_OWN_HEADERS:
        return "name", f"'{name}' is a hop-by-hop or framing header, which the probe sets itself"
    if len(value) > MAX_HEADER_VALUE:
        return "value", f"must be at most {MAX_HEADER_VALUE} characters, got {len(value)}"
    bad = next((i for i, ch in enumerate(value) if not (ch == "\t" or " " <= ch <= "~")), None)
    if bad is not None:
        return (
            "value",
            f"must hold printable ASCII only, got U+{ord(value[bad]):04X} at position {bad}",
        )
    if value != value.strip(" \t"):
        return "value", "must not start or end with spaces"
    return None
