"""A client connection on an HTTPS socket with mutual TLS: the client's certificate is judged once,
when the connection is made, and a connection without a valid one has every request answered 400.

Why a subclass: listeners without mutual TLS keep `ClientConnection` as it is — nothing is added to
their handshake, their connection set-up or their per-request path. Here one method runs per
connection (`connection_made`) and one check per request head (`on_headers_complete`).

Phases of the check (one value, `pending`):

    connection made ──judge──► decided                      (no OCSP due)
                     └───────► pending ──OCSP answer──► decided

While pending, reading is paused, so no request is parsed before the verdict; the verdict and the
`client_certificate*` values are on the connection (`client_certificate`) for the rest of its life.

Rules of this module:
- the 400 goes through the exchange's `reject`, so it is answered in order, closes the connection,
  and the access log's `error_info` names the reason;
- the OCSP request is the only task a connection starts, and only when the profile asks for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final

from cryptography import x509

from probegate.config.mutualtls import ClientAuth
from probegate.proxy import ocsp
from probegate.proxy.client import ClientConnection
from probegate.proxy.clientauth import ClientCertificate, describe, judge, presented
from probegate.proxy.context import ProxyContext

log = logging.getLogger("probegate.proxy")
PAUSE_CLIENT_AUTH: Final = (
    1 << 10
)  # reading waits for the certificate's OCSP verdict (a `pauses` bit)


def refusal(certificate: ClientCertificate) -> str:
    """The reason a request is answered 400, as the access log names it."""
    if certificate.verification == "NONE":
        return "mutual TLS: no client certificate was sent"
    return f"mutual TLS: client certificate {certificate.verification}"


class MutualTlsConnection(ClientConnection):
    __slots__ = ("auth", "early", "pending", "refused", "task")

    def __init__(
        self, proxy: ProxyContext, scheme: bytes, auth: Callable[[], ClientAuth | None]
    ) -> None:
        super().__init__(proxy, scheme)
        self.auth = auth  # read once the handshake is done: a reload may have changed it
        self.refused: str | None = None  # why every request is answered 400
        self.pending = False
        self.early = b""  # bytes read while the OCSP verdict is pending
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        auth = self.auth()
        if auth is None or self.closing:
            return
        judged = judge(presented(transport.get_extra_info("ssl_object")), auth)
        self.client_certificate = judged.certificate
        if judged.issuer is None or judged.leaf is None:
            self._decided()
            return
        self.pending = True
        self.pause_reading_for(PAUSE_CLIENT_AUTH)
        self.task = asyncio.get_running_loop().create_task(
            self._revocation(judged.leaf, judged.issuer)
        )

    async def _revocation(self, leaf: x509.Certificate, issuer: x509.Certificate) -> None:
        try:
            failure = await ocsp.revocation_failure(leaf, issuer)
        except Exception:  # a fault of ours: refuse rather than let an unchecked client in
            log.exception("OCSP check failed")
            failure = "the OCSP check failed inside the gateway"
        if failure is not None:
            self.client_certificate = describe(leaf, f"FAILED:{failure}")
        self.task = None
        self._decided()
        self.pending = False
        early, self.early = self.early, b""
        if early and not self.closing:
            super().data_received(early)
        self.resume_reading_for(PAUSE_CLIENT_AUTH)

    def _decided(self) -> None:
        if not self.client_certificate.ok:
            self.refused = refusal(self.client_certificate)

    def data_received(self, data: bytes) -> None:
        if self.pending:
            self.early += data
            return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        if self.refused is not None:
            exchange = self.parsing
            assert exchange is not None
            exchange.reject(400, self.refused)
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.task is not None:
            self.task.cancel()
        super().connection_lost(exc)
