"""HTTP/1.1 wire rules of the front end: what a request may look like, and the gateway's own answers.

Rules of this module:
- pure functions and constants, no I/O: the protocol modules call them with bytes;
- the strictness table is `reference/reliability.md` section 1.5: llhttp (httptools) rejects most
  malformed input itself; this module adds what it lets through (Host syntax and count, request
  target forms, versions, Transfer-Encoding other than exactly `chunked`, CONNECT);
- every answer the gateway makes itself is built here, once per status, with `Connection: close`
  when the connection ends after it.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Final

MAX_HEAD: Final = 32 * 1024  # request line, and header block, each (SPEC section 7)
MAX_HEADERS: Final = 100

# Why a client connection stopped reading: one bit per reason; it reads again when none is left.
PAUSE_PIPELINE: Final = 1  # a pipelined request waits while the current one is answered
PAUSE_BACKEND: Final = 2  # the backend's socket buffer is full (request body upload)
PAUSE_UPGRADE: Final = 4  # waiting for the backend's answer to an Upgrade request
PAUSE_BUFFER: Final = 8  # body bytes buffered while no backend connection is attached
SERVER: Final = b"probegate"

# Request headers the front end reads or replaces; every other header line is forwarded as parsed.
HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)
OWN_REQUEST_HEADERS: Final = frozenset(
    {b"x-forwarded-proto", b"x-forwarded-port", b"x-original-host", b"x-appgw-trace-id"}
)


# A set of header names by their first byte, lower-cased (256 entries, most of them empty),
# each name with its usual spelling (`content-length`, `Content-Length`), for `named`.
NameTable = list[tuple[tuple[bytes, bytes], ...]]


def spelled(name: bytes) -> bytes:
    """A header name's usual spelling: `content-length` → `Content-Length`."""
    return b"-".join(word.capitalize() for word in name.split(b"-"))


def name_table(names: frozenset[bytes]) -> NameTable:
    """`names` (lower-case) arranged for `named`."""
    return [tuple((n, spelled(n)) for n in sorted(names) if n[0] == c) for c in range(256)]


def named(table: NameTable, data: bytes) -> bytes:
    """The name of `table` that `data`, a bare header name or a whole header line, has,
    lower-cased; b"" for any other. Compiled, this is comparisons only: the usual spelling is
    tried first, then any case byte by byte; `lower()` and a set look-up would be two method
    calls (~650 instructions in all)."""
    size = len(data)
    if not size:
        return b""
    for name, usual in table[data[0] | 32]:
        n = len(name)
        # the name, then the data's end or ":" (llhttp allows no space before it)
        if (size == n or (size > n and data[n] == 58)) and (
            data.startswith(usual) or lower_equals(data, name)
        ):
            return name
    return b""


IDEMPOTENT: Final = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})

# RFC 3986 reg-name / IPv4 / IP-literal, then an optional port; no userinfo, no path.
_HOST: Final = re.compile(
    rb"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-_~!$&'()*+,;=%]+(?:\.[A-Za-z0-9\-_~!$&'()*+,;=%]+)*\.?)"
    rb"(?::([0-9]{1,5}))?"
)
_CODINGS: Final = re.compile(
    rb"[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]*(?:[ \t]*,[ \t]*[!#$%&'*+.^_`|~0-9A-Za-z-]*)*[ \t]*"
)
_ABSOLUTE: Final = re.compile(rb"(https?)://([^/?#@]*)([^#]*)", re.IGNORECASE)


class Reject(Exception):
    """A request the gateway answers itself, with `status` and a short `reason` for the log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# ------------------------------------------------------------------------ request checks


def check_host(value: bytes) -> bytes:
    """A Host value (or absolute-form authority) as it may reach routing, else `Reject(400)`."""
    found = _HOST.fullmatch(value)
    if found is None or value.startswith(b".") or b".." in value:
        raise Reject(400, "invalid Host")
    port = found.group(1)
    if port is not None and int(port) > 65535:
        raise Reject(400, "invalid port in Host")
    return value


def check_version(version: str) -> None:
    if version not in ("1.1", "1.0"):
        raise Reject(505, f"HTTP/{version} is not served")


def check_transfer_encoding(value: bytes, version: str) -> None:
    """Only `chunked` alone is accepted: a coding list would have to be framed by guessing."""
    if version == "1.0":
        raise Reject(400, "Transfer-Encoding on an HTTP/1.0 request")
    if value.strip(b" \t").lower() != b"chunked":
        if _CODINGS.fullmatch(value) is None:
            raise Reject(400, "Transfer-Encoding that is not a list of codings")
        raise Reject(501, "Transfer-Encoding other than chunked")


def split_target(method: bytes, url: bytes) -> tuple[bytes | None, bytes, bytes | None]:
    """(authority from absolute-form or None, path, query or None) of a request target."""
    if url.startswith(b"/"):
        path, mark, query = url.partition(b"?")
        return None, path, query if mark else None
    if url == b"*":
        if method != b"OPTIONS":
            raise Reject(400, "asterisk-form is for OPTIONS only")
        return None, b"*", None
    found = _ABSOLUTE.fullmatch(url)
    if found is None or not found.group(2):
        raise Reject(400, "request target is neither a path nor an absolute URL")
    authority = check_host(found.group(2))
    rest = found.group(3) or b"/"
    if not rest.startswith((b"/", b"?")):
        raise Reject(400, "invalid request target")
    if rest.startswith(b"?"):
        rest = b"/" + rest
    path, mark, query = rest.partition(b"?")
    return authority, path, query if mark else None


def connection_tokens(value: bytes) -> list[bytes]:
    return [token.strip(b" \t").lower() for token in value.split(b",") if token.strip(b" \t")]


def without_named(lines: list[bytes], tokens: list[bytes]) -> list[bytes]:
    """Header lines (kept as name, ": ", value, CRLF quadruples) minus those a `Connection`
    header names: the sender marked them hop-by-hop. The same rule both ways."""
    named = {t for t in tokens if t not in (b"close", b"keep-alive", b"upgrade")}
    if not named:
        return lines
    kept: list[bytes] = []
    for i in range(0, len(lines), 4):
        if lines[i].lower() not in named:
            kept += lines[i : i + 4]
    return kept


def lower_equals(data: bytes, name: bytes) -> bool:
    """`data` starts with `name` (lower-case letters, digits and `-`), in any case. Compiled, a
    byte loop (mypyc inlines `all` over a generator): `| 32` lower-cases a letter and leaves `-`
    and digits as they are; it maps only control characters (CR among them) onto them, and a
    header line or value holds none."""
    n = len(name)
    return len(data) >= n and all(data[j] | 32 == name[j] for j in range(n))  # an inline loop


def quadruples(stretches: list[bytes]) -> list[bytes]:
    """Header lines kept as stretches of whole lines (CRLFs included), as (name, ": ", value,
    CRLF) quadruples."""
    out: list[bytes] = []
    for line in b"".join(stretches).split(b"\r\n"):
        if line:
            name, _, value = line.partition(b":")
            out += (name, b": ", value.strip(b" \t"), b"\r\n")
    return out


_UNRESERVED: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)


def plain_path(path: bytes) -> bool:
    """No `%` and no `/.` in `path`: nothing for `normalise_path` to do.

    A loop over the bytes: compiled, it costs a few instructions a byte, where `path.find` pays
    for parsing its arguments first and `in` for a TypeError (it tries the operand as an integer
    before searching).
    """
    previous = 0
    for i in range(len(path)):
        c = path[i]
        if c == 37 or (c == 46 and previous == 47):  # "%", or "." after "/"
            return False
        previous = c
    return True


def final_status_line(data: bytes) -> bool:
    """`data` begins with the status line of a final (2xx-5xx) HTTP/1.x answer: its head can be
    read from its bytes (response.py), where a 1xx may be followed by another head in the same
    read. llhttp still parses the same bytes and rejects what is not HTTP: a head it accepts has
    no bare CR or LF, so its first blank line is its end."""
    if len(data) < 13 or not data.startswith(b"HTTP/1.") or data[8] != 32:
        return False
    first = data[9]
    return 50 <= first <= 53  # "2" to "5"


def spaced_request_line(data: bytes) -> bool:
    """Two spaces in a row in the first line of `data` (after the empty lines RFC 9112 lets a
    client send before a request). llhttp accepts `GET  / HTTP/1.1`; RFC 9112 separates the
    request line's parts with exactly one space."""
    n = len(data)
    i = 0
    while i + 1 < n and data[i] == 13 and data[i + 1] == 10:
        i += 2
    previous = 0
    while i < n:
        c = data[i]
        if c == 10:
            return False
        if c == 32 and previous == 32:
            return True
        previous = c
        i += 1
    return False


def normalise_path(path: bytes) -> bytes:
    """Decode percent-encoded unreserved characters and remove dot segments (RFC 3986 5.2.4), so
    that `/public/../admin` is routed, and forwarded, as `/admin`. A path climbing above the root
    is refused. The common path (no `%`, no `/.`) is returned as is."""
    if plain_path(path):
        return path
    if b"%" in path:
        path = _decode_unreserved(path)
    if b"/." not in path:
        return path
    out: list[bytes] = []
    segments = path.split(b"/")
    for segment in segments[1:]:
        if segment == b"..":
            if not out:
                raise Reject(400, "path climbs above the root")
            out.pop()
        elif segment != b".":
            out.append(segment)
    tail = b"/" if segments[-1] in (b".", b"..") else b""
    return b"/" + b"/".join(out) + (tail if out else b"")


def _decode_unreserved(path: bytes) -> bytes:
    parts = path.split(b"%")
    out = [parts[0]]
    for part in parts[1:]:
        code = part[:2]
        try:
            value = int(code, 16) if len(code) == 2 else -1
        except ValueError:
            raise Reject(400, "invalid percent-encoding in the path") from None
        if value < 0:
            raise Reject(400, "invalid percent-encoding in the path")
        out.append(bytes((value,)) + part[2:] if value in _UNRESERVED else b"%" + part)
    return b"".join(out)


# ------------------------------------------------------------------------ the gateway's answers


def answer(
    status: int,
    body: str = "",
    *,
    close: bool = False,
    headers: tuple[tuple[bytes, bytes], ...] = (),
    head_only: bool = False,
) -> bytes:
    """One complete response the gateway makes itself (plain text body)."""
    text = body or f"{status} {_phrase(status)}\n"
    return _own(status, text.encode("utf-8"), b"text/plain; charset=utf-8", (), close=close,
                headers=headers, head_only=head_only)  # fmt: skip


def page(
    status: int,
    body: bytes,
    content_type: bytes,
    reason: str,
    *,
    close: bool = False,
    headers: tuple[tuple[bytes, bytes], ...] = (),
    head_only: bool = False,
) -> bytes:
    """A custom error page in place of the gateway's plain answer; `reason` (what the plain body
    would have said) goes in `X-Probegate-Reason`, since the page replaces the body."""
    shown = "".join(c if " " <= c <= "~" else "?" for c in reason.strip()[:300])
    reason_line = b"X-Probegate-Reason: " + shown.encode("ascii") + b"\r\n"
    return _own(status, body, content_type, (reason_line,), close=close, headers=headers,
                head_only=head_only)  # fmt: skip


def _own(
    status: int,
    body: bytes,
    content_type: bytes,
    extra: tuple[bytes, ...],
    *,
    close: bool,
    headers: tuple[tuple[bytes, bytes], ...],
    head_only: bool,
) -> bytes:
    """The bytes of an answer the gateway makes itself: status line, its own headers, `extra`
    header lines, the caller's headers, then the body (none for a HEAD request)."""
    lines = [
        b"HTTP/1.1 %d %s\r\n" % (status, _phrase(status).encode("ascii")),
        b"Server: " + SERVER + b"\r\n",
        b"Content-Type: " + content_type + b"\r\n",
        b"Content-Length: %d\r\n" % len(body),
        *extra,
    ]
    lines.extend(name + b": " + value + b"\r\n" for name, value in headers)
    if close:
        lines.append(b"Connection: close\r\n")
    lines.append(b"\r\n")
    if not head_only:
        lines.append(body)
    return b"".join(lines)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


LAST_CHUNK: Final = b"0\r\n\r\n"
