"""What the data path's objects need of one another, written down as Protocols.

A client connection holds its exchanges and an exchange answers through its connection; a backend
connection feeds the exchange it carries; the proxy sweeps its connections and counts what they
answered. Each side names the other only through a protocol here — or, on the per-request path,
through a base class the compiled build calls directly (`link.ClientLink`, the client connection
an exchange answers on; `upstream.Carried`, the exchange a backend connection feeds) — so any one
module can be read on its own and the imports inside proxy/ run one way (no cycle, not even under
TYPE_CHECKING):

    wire → routing → tables            pure pieces (no I/O)
    clientauth                         client certificates: asked for, judged (mutual TLS)
    balancer, listeners, sni, listen   target choice; the sockets a plan needs, certificates;
    ocsp, rewrite                      a client certificate's revocation; rewrite sets evaluated
    contracts, link                    these protocols; the client connection's base class
    accesslog, upstream                the access log; backend connections, pools, the connector
    context                            what every connection and exchange shares (ProxyContext)
    lifecycle                          one exchange: its fields, its phases, how it ends
    rewriting                          a rewrite set applied to one exchange
    request, response → exchange       the request's half, the answer's half, choosing a target
    client                             one client connection
    mutual                             one client connection on a socket with mutual TLS
    server                             binding, the tick, reload and stop

(pyproject.toml's layers contract holds proxy/ to this order, bottom to top.)

Rules of this module:
- protocols only: nothing here runs per request;
- a member is listed because another module uses it; members read but never written are
  properties, so an implementation may hold a narrower type.
"""

from __future__ import annotations

from typing import Protocol

from probegate.proxy.rewrite import Rewritten
from probegate.proxy.tables import RouteInfo, Upstream


class Peer(Protocol):
    """The client end of a connection, as the access log names it."""

    @property
    def peer_ip(self) -> str: ...

    @property
    def peer_port(self) -> int: ...

    @property
    def scheme(self) -> bytes: ...  # b"http" or b"https"


class Served(Protocol):
    """What the proxy needs of a client connection: its deadlines, and stopping."""

    def sweep(self, now: float) -> None: ...

    def wind_down(self) -> None: ...

    def abort(self) -> None: ...


class Logged(Protocol):
    """What the counters and the access log read of an exchange that was answered."""

    @property
    def client(self) -> Peer: ...

    @property
    def info(self) -> RouteInfo | None: ...

    @property
    def upstream(self) -> Upstream | None: ...

    @property
    def started(self) -> float: ...  # monotonic; 0.0 when the request never really began

    @property
    def url(self) -> bytes: ...

    @property
    def method(self) -> bytes: ...

    @property
    def path(self) -> bytes: ...

    @property
    def rewritten(self) -> Rewritten | None: ...  # what a rewrite set did (its URI, for the log)

    @property
    def version(self) -> str: ...

    @property
    def host(self) -> bytes | None: ...

    @property
    def authority(self) -> bytes | None: ...

    @property
    def head_size(self) -> int: ...

    @property
    def body_size(self) -> int: ...

    @property
    def sent_bytes(self) -> int: ...

    @property
    def status(self) -> int: ...  # the backend's status; 0 when no backend answered

    @property
    def latency(self) -> float: ...

    @property
    def trace(self) -> bytes: ...

    @property
    def error_info(self) -> str: ...
