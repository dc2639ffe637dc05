"""Which sockets a plan's listeners need, and what a reload must change: decided before any I/O.

Rules of this module:
- pure: no sockets, no asyncio; `Proxy` (server.py) does what `plan_listeners` decides;
- one socket per (address, port); a port with an any-address listener binds only that;
- a socket that leaves while another takes its port (Http → Https, or 127.0.0.1 → 0.0.0.0)
  closes first, or the new bind would fail; every other leaving socket closes only once the new
  ones are bound, so a failed bind leaves the running listeners as they were;
- a kept HTTPS socket is never closed: its certificates are swapped in place.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from probegate.config.plan import Listener, Protocol


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    port: int
    tls: bool

    @property
    def url(self) -> str:
        shown = f"[{self.address}]" if ":" in self.address else self.address
        return f"{'https' if self.tls else 'http'}://{shown}:{self.port}"


@dataclass(frozen=True, slots=True)
class ListenerChanges:
    """The socket work of one reload, in the order it is done."""

    close_first: tuple[Endpoint, ...]  # leaving, and their port is wanted by a new socket
    bind: tuple[Endpoint, ...]
    close_after: tuple[Endpoint, ...]  # leaving, once every new socket is bound
    certificates: tuple[Endpoint, ...]  # kept HTTPS sockets: their certificates are updated


def endpoints(listeners: Sequence[Listener]) -> dict[Endpoint, list[Listener]]:
    """The sockets a plan's listeners need, each with the listeners it serves."""
    found: dict[Endpoint, list[Listener]] = {}
    by_port: dict[int, list[Listener]] = {}
    for listener in listeners:
        by_port.setdefault(listener.port, []).append(listener)
    for port, items in by_port.items():
        tls = items[0].protocol is Protocol.HTTPS
        anys = {_address(x) for x in items if ipaddress.ip_address(x.bind_address).is_unspecified}
        for listener in items:
            address = _address(listener)
            family_any = "::" if ":" in address else "0.0.0.0"
            chosen = family_any if family_any in anys else address
            found.setdefault(Endpoint(chosen, port, tls), []).append(listener)
    return found


def plan_listeners(
    bound: Collection[Endpoint], wanted: Mapping[Endpoint, object]
) -> ListenerChanges:
    """From the sockets bound now to those `wanted` (at start, `bound` is empty)."""
    leaving = [e for e in bound if e not in wanted]
    adding = tuple(e for e in wanted if e not in bound)
    ports = {e.port for e in adding}
    return ListenerChanges(
        close_first=tuple(e for e in leaving if e.port in ports),
        bind=adding,
        close_after=tuple(e for e in leaving if e.port not in ports),
        certificates=tuple(e for e in wanted if e.tls and e in bound),
    )


def _address(listener: Listener) -> str:
    return ipaddress.ip_address(listener.bind_address).compressed
