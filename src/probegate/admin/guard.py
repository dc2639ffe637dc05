"""The admin API's gatekeeper: who may ask what, checked before any route runs.

A plain ASGI middleware, in this order; the first refusal answers:

| check | applies to | refused with |
|---|---|---|
| `Host` names the admin API (DNS rebinding) | every route but `/healthz`, when no token is configured or `allowedHosts` is given | 421 `HostNotAllowed` |
| bearer token | every route but `/healthz` and the dashboard's files, when a token is configured | 401 `Unauthorized` |
| `Origin`, when sent, is the API's own | every POST to a route that takes POST | 403 `ForeignOrigin` |
| `Content-Type: application/json` | every POST to a route that takes POST | 415 `UnsupportedMediaType` |

Rules of this module:
- a page of another site can neither read an answer (no CORS header is ever sent, and a name
  rebound to 127.0.0.1 fails the `Host` check) nor write (a cross-site form or `text/plain` fetch
  fails the `Content-Type` check, a cross-site JSON fetch needs a preflight that gets 405);
- accepted `Host` names: `localhost`, any loopback IP literal, the bind address and
  `admin.allowedHosts`, with any port (a tunnel or port forward may change the port; a
  rebinding page cannot choose the name);
- every answer that passes through gets `SAFE_HEADERS` unless it set its own.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from probegate.admin import pages
from probegate.admin.answers import SAFE_HEADERS, Refused
from probegate.config import syntax

log = logging.getLogger("probegate.admin")

OPEN = "/healthz"  # any Host, no token: load balancers and supervisors ask it by any name


@dataclass(frozen=True, slots=True)
class Policy:
    token: bytes | None
    hosts: frozenset[str] | None  # lower-case names accepted besides loopback literals; None: any
    writes: frozenset[str] = frozenset()  # the paths that take POST (others answer it 405)

    @classmethod
    def of(
        cls, bind_address: str, token: str | None, allowed: tuple[str, ...], writes: set[str]
    ) -> Policy:
        secret = token.encode() if token else None
        if token is not None and not allowed:
            return cls(secret, None, frozenset(writes))  # a rebinding page has no token to send
        names = frozenset({"localhost", bind_address.lower(), *allowed})
        return cls(secret, names, frozenset(writes))


def split_host(value: str) -> tuple[str, int | None] | None:
    """`name[:port]` or `[v6][:port]` → (lower-case name, port); None when it is neither."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
    else:
        name, colon, port = value.partition(":")
        rest = colon + port
    digits = rest[1:]
    if rest and not (rest[0] == ":" and digits.isascii() and digits.isdigit()):
        return None
    if not name or (digits and not 0 < int(digits) < 65536):
        return None
    return name.removesuffix("."), int(digits) if digits else None


def host_refusal(policy: Policy, host: str) -> Refused | None:
    if policy.hosts is None:
        return None
    found = split_host(host)
    if found is not None and (found[0] in policy.hosts or syntax.is_loopback(found[0])):
        return None
    given = f"got {syntax.shown(host)}" if host else "the request has no Host header"
    return Refused(
        421,
        "HostNotAllowed",
        "this admin API answers only to its own address (localhost, a loopback address, "
        f"the bind address) and the names in admin.allowedHosts; {given}",
    )


def token_refusal(policy: Policy, authorization: str) -> Refused | None:
    if policy.token is None:
        return None
    scheme, _, given = authorization.partition(" ")
    valid = hmac.compare_digest(given.strip().encode("utf-8", "replace"), policy.token)
    if scheme.lower() == "bearer" and valid:  # the scheme is case-insensitive (RFC 9110)
        return None
    return Refused(
        401,
        "Unauthorized",
        "send 'Authorization: Bearer <admin.token>'",
        {"WWW-Authenticate": 'Bearer realm="probegate"'},
    )


def origin_refusal(origin: str | None, host: str) -> Refused | None:
    """A browser names the page that sent a request in `Origin`; it must be the API's own."""
    if origin is None or _same_origin(origin, host):
        return None
    return Refused(
        403,
        "ForeignOrigin",
        f"requests from another site are refused (Origin {syntax.shown(origin)}, "
        f"Host {syntax.shown(host)})",
    )


def _same_origin(origin: str, host: str) -> bool:
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.path or parts.query or parts.fragment:
        return False
    theirs, ours = split_host(parts.netloc), split_host(host)
    if theirs is None or ours is None or "@" in parts.netloc:
        return False
    default = 80 if parts.scheme == "http" else 443  # behind a TLS proxy the Host has no port
    return theirs[0] == ours[0] and (theirs[1] or default) == (ours[1] or default)


def media_refusal(content_type: str) -> Refused | None:
    media, _, parameters = content_type.partition(";")
    charsets = [
        value.strip().strip('"').lower()
        for name, _, value in (p.partition("=") for p in parameters.split(";"))
        if name.strip().lower() == "charset"
    ]
    if media.strip().lower() == "application/json" and all(
        c in ("utf-8", "utf8") for c in charsets
    ):
        return None
    got = syntax.shown(content_type) if content_type else "none"
    return Refused(
        415,
        "UnsupportedMediaType",
        f"send the body as 'Content-Type: application/json' (UTF-8); got {got}",
    )


class Guard:
    """The ASGI middleware applying `Policy` and adding `SAFE_HEADERS`."""

    def __init__(self, app: ASGIApp, policy: Policy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is not None:
            await refused.response()(scope, receive, send)
            return

        started = False

        async def send_safe(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [
                    (name.encode(), value.encode())
                    for name, value in SAFE_HEADERS
                    if name.encode() not in present
                ]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_safe)
        except Exception:
            # Logged here, once, with the traceback; the client gets our words only.
            log.exception("admin API: %s %s failed", scope["method"], scope["path"])
            if not started:
                crashed = Refused(500, "InternalError", "the request failed inside the gateway")
                await crashed.response()(scope, receive, send)

    def refusal(self, scope: Scope) -> Refused | None:
        path: str = scope["path"]
        if path == OPEN:
            return None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        hosts = [v for k, v in scope["headers"] if k.lower() == b"host"]
        host = hosts[0].decode("latin-1") if len(hosts) == 1 else ""  # two Hosts: none valid
        refused = host_refusal(self.policy, host)
        if refused is None and not pages.is_public(path):
            refused = token_refusal(self.policy, headers.get("authorization", ""))
        if refused is None and scope["method"] == "POST" and path in self.policy.writes:
            refused = origin_refusal(headers.get("origin"), host) or media_refusal(
                headers.get("content-type", "")
            )
        return refused
