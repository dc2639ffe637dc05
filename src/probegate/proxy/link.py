"""What an exchange needs of the client connection it arrived on, as a base class.

`ClientConnection` (client.py) is the one implementation. It is a base class, not a Protocol as
in contracts.py, because an exchange reads its connection on every request (the transport, the
per-connection caches, the queue it answers in) and the compiled build reaches the fields and
methods of a class it knows directly; through a Protocol every such read is a dictionary look-up
by name (about a tenth of a plain GET's instructions in all). The imports still run one way: this
module knows nothing above routing, tables and clientauth.

Rules of this module:
- the fields here are the ones an exchange reads or refreshes; a connection's own state stays in
  client.py;
- the methods are the ones an exchange calls; client.py overrides every one of them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

from probegate.proxy.clientauth import NO_CERTIFICATE, ClientCertificate
from probegate.proxy.routing import Entry, Route
from probegate.proxy.tables import RouteInfo, Tables

E = TypeVar("E")  # the exchange type a client connection carries


class ClientLink(asyncio.Protocol, Generic[E]):
    __slots__ = (
        "checked_host",
        "client_certificate",
        "closing",
        "forwarded",
        "last",
        "local_ip",
        "local_port",
        "peer_ip",
        "peer_port",
        "peer_text",
        "port_text",
        "queue",
        "route_entry",
        "route_host",
        "route_info",
        "route_last",
        "route_tables",
        "scheme",
        "transport",
        "write_paused",
        "write_paused_at",
    )

    def __init__(self, scheme: bytes) -> None:
        self.scheme = scheme  # b"http" or b"https"
        self.transport: asyncio.Transport | None = None
        self.queue: deque[E] = deque()  # exchanges waiting for their answer; [0] is answering
        self.closing = False
        self.last = False  # the gateway is stopping: close after the answer in progress
        self.write_paused = False
        self.write_paused_at = 0.0
        self.peer_ip = ""
        self.peer_port = 0
        self.local_ip = ""
        self.local_port = 0
        self.peer_text = b""  # "ip:port" for X-Forwarded-For
        self.port_text = b""  # the listener's port for X-Forwarded-Port
        self.forwarded = b""  # X-Forwarded-For/-Proto/-Port lines for requests without XFF
        # client_certificate*: NONE without mutual TLS (proxy/mutual.py judges the one sent)
        self.client_certificate: ClientCertificate = NO_CERTIFICATE
        # Per-connection caches the exchange reads and refreshes: a keep-alive client repeats
        # its Host header.
        self.checked_host: bytes | None = None
        self.route_host: bytes | None = None
        self.route_tables: Tables | None = None
        self.route_entry: Entry | None = None
        # the last route chosen under route_tables, and its RouteInfo (by_route[id(route)])
        self.route_last: Route | None = None
        self.route_info: RouteInfo | None = None

    def finished(self, exchange: E, keep_alive: bool) -> None:
        """The exchange at the head of the queue has written its whole answer."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """End the connection abruptly: the client must see a truncated answer, not a short one."""
        raise NotImplementedError

    def start_tunnel(self, backend: asyncio.Transport, exchange: E) -> None:
        raise NotImplementedError

    def tunnel_ended(self, side: int) -> bool | None:
        raise NotImplementedError

    def pause_reading_for(self, reason: int) -> None:
        """Reading is paused for several reasons at once (`wire.PAUSE_*` bits)."""
        raise NotImplementedError

    def resume_reading_for(self, reason: int) -> None:
        raise NotImplementedError
