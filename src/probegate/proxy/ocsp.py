"""Asking the responder a client certificate names (OCSP over HTTP) whether it is revoked.

Rules of this module:
- the responder is the one in the certificate's authority information access, over plain HTTP
  (OCSP answers are signed; `clientauth.ocsp_verdict` checks the signature);
- one answer per certificate is kept until its nextUpdate (at most an hour), so a client that
  reconnects is not a request to the responder each time; at most 4096 answers are kept;
- a responder that cannot be reached, or answers late (5 s), fails the check: revocation was asked
  for, and an unknown status is not a good one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from urllib.parse import urlsplit

from cryptography import x509

from probegate.proxy.clientauth import ocsp_request, ocsp_url, ocsp_verdict

TIMEOUT = 5.0
MAX_ANSWER = 64 * 1024
MAX_KEPT = 4096

_kept: dict[tuple[bytes, int], tuple[str | None, dt.datetime]] = {}


async def revocation_failure(leaf: x509.Certificate, issuer: x509.Certificate) -> str | None:
    """None when the responder says the certificate is good; otherwise why the check failed."""
    now = dt.datetime.now(dt.UTC)
    key = (issuer.subject.public_bytes(), leaf.serial_number)
    kept = _kept.get(key)
    if kept is not None and kept[1] > now:
        return kept[0]
    url = ocsp_url(leaf)
    if url is None:
        return "the certificate names no OCSP responder"
    try:
        data = await asyncio.wait_for(_post(url, ocsp_request(leaf, issuer)), TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        return f"the OCSP responder {url} cannot be reached ({type(exc).__name__})"
    failure, until = ocsp_verdict(data, leaf, issuer, now)
    if len(_kept) >= MAX_KEPT:
        _kept.clear()
    _kept[key] = (failure, until)
    return failure


async def _post(url: str, body: bytes) -> bytes:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"not an http:// responder: {url}")
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
    try:
        head = (
            f"POST {parts.path or '/'} HTTP/1.0\r\nHost: {parts.netloc}\r\n"
            "Content-Type: application/ocsp-request\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode("ascii") + body)
        answer = await reader.read(MAX_ANSWER)
        while chunk := await reader.read(MAX_ANSWER):
            answer += chunk
            if len(answer) > MAX_ANSWER:
                raise ValueError("the OCSP answer is too large")
    finally:
        writer.close()
    status, _, rest = answer.partition(b"\r\n")
    if b" 200 " not in status + b" ":
        raise ValueError(f"the responder answered {status[:40]!r}")
    return rest.partition(b"\r\n\r\n")[2]


def forget() -> None:
    """Drop every kept answer (tests, and a reload that changes the CAs)."""
    _kept.clear()
