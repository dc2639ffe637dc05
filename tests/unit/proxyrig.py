"""The data path without sockets: fake transports drive `ClientConnection` and `Exchange`.

Rules of this module:
- no sockets and no event loop: a request reaches a backend only on a connection the test put
  in the target's pool (`Rig.backend`), so an exchange never has to connect;
- a fake transport records what was written and whether it was closed, aborted or paused; a real
  one would call `connection_lost` later, so a test that needs it calls it itself;
- `PhaseLog` replaces the exchange class the client builds with one that checks every phase
  change against the tables in lifecycle.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from probegate.config.compile import compile_plan
from probegate.config.load import load_document
from probegate.config.plan import GatewayPlan, TargetKey
from probegate.proxy import client as client_module
from probegate.proxy.client import ClientConnection
from probegate.proxy.context import ProxyContext
from probegate.proxy.exchange import Exchange
from probegate.proxy.lifecycle import ANSWERING_NEXT, READING_NEXT
from probegate.proxy.upstream import BackendConnection
from probegate.resolver import Resolver
from probegate.state.snapshot import GroupKey, RouteGroup

GROUP = GroupKey("web", "plain")
PEER = ("127.0.0.9", 50000)
LOCAL = ("127.0.0.1", 8080)

DOCUMENT: dict[str, Any] = {
    "httpListeners": [
        {"name": "front", "port": 8080, "protocol": "Http"},
        {"name": "shop", "port": 8080, "protocol": "Http", "hostNames": ["shop.example.test"]},
    ],
    "backendAddressPools": [
        {"name": "web", "backendAddresses": [{"ipAddress": "127.0.1.1"}]},
        {"name": "shop", "backendAddresses": [{"ipAddress": "127.0.1.2"}]},
    ],
    "backendHttpSettingsCollection": [{"name": "plain", "port": 8081, "protocol": "Http"}],
    "redirectConfigurations": [
        {"name": "gone", "redirectType": "Permanent", "targetUrl": "http://new.example.test/"},
    ],
    "urlPathMaps": [
        {
            "name": "map",
            "defaultBackendAddressPool": "shop",
            "defaultBackendHttpSettings": "plain",
            "pathRules": [
                {
                    "name": "api",
                    "paths": ["/api/*"],
                    "backendAddressPool": "web",
                    "backendHttpSettings": "plain",
                },
                {"name": "old", "paths": ["/old/*"], "redirectConfiguration": "gone"},
            ],
        }
    ],
    "requestRoutingRules": [
        {
            "name": "basic",
            "ruleType": "Basic",
            "httpListener": "front",
            "priority": 20,
            "backendAddressPool": "web",
            "backendHttpSettings": "plain",
        },
        {
            "name": "paths",
            "ruleType": "PathBasedRouting",
            "httpListener": "shop",
            "priority": 10,
            "urlPathMap": "map",
        },
    ],
}


def plan_of(document: Mapping[str, Any] = DOCUMENT) -> GatewayPlan:
    return compile_plan(load_document(dict(document), "test", Path.cwd()))


class FakeTransport(asyncio.Transport):
    def __init__(self, peer: tuple[str, int] = PEER, local: tuple[str, int] = LOCAL) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False
        self.aborted = False
        self.reading = True
        self.eof_written = False
        self.protocol: asyncio.BaseProtocol | None = None
        self._extra = {"peername": peer, "sockname": local}

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def take(self) -> bytes:
        """What was written since the last call."""
        data = bytes(self.written)
        self.written.clear()
        return data

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof_written = True

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol


class FakeHealth:
    """The store's published routes: every target of the plan routable unless told otherwise."""

    def __init__(self, plan: GatewayPlan) -> None:
        groups: dict[GroupKey, list[Any]] = {}
        for target in plan.targets:
            groups.setdefault(GroupKey(target.key.pool, target.key.settings), []).append(target)
        self.routes: dict[GroupKey, RouteGroup] = {
            key: RouteGroup(tuple(targets), len(targets), ()) for key, targets in groups.items()
        }
        self.ejected: list[tuple[TargetKey, dict[str, str]]] = []  # passiveHealth asked for

    def eject(self, key: TargetKey, facts: dict[str, str]) -> bool:
        self.ejected.append((key, facts))
        return True


class Rig:
    """A `ProxyContext` on a plan, with client and backend connections on fake transports."""

    def __init__(self, plan: GatewayPlan | None = None) -> None:
        self.plan = plan or plan_of()
        self.health = FakeHealth(self.plan)
        self.proxy = ProxyContext(self.plan, self.health, Resolver())

    def client(self) -> tuple[ClientConnection, FakeTransport]:
        connection = ClientConnection(self.proxy, b"http")
        transport = FakeTransport()
        connection.connection_made(transport)
        return connection, transport

    def backend(self, pool: str = "web") -> tuple[BackendConnection, FakeTransport]:
        """An idle keep-alive connection to the first target of `pool`, in its pool."""
        upstream = next(u for k, u in self.proxy.tables.upstreams.items() if k.pool == pool)
        connections = self.proxy.pool_for(upstream)
        connection = BackendConnection(connections)
        transport = FakeTransport(peer=(upstream.address, upstream.port))
        connection.connection_made(transport)
        connections.give_back(connection, self.proxy.now)
        return connection, transport


_TABLES: dict[str, Mapping[Any, frozenset[Any]]] = {
    "reading": READING_NEXT,
    "answering": ANSWERING_NEXT,
}


class PhaseLog:
    """Every exchange the client builds records its phase changes, each checked on the way."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []
        self.changes: list[tuple[str, str, str]] = []  # (side, from, to)

    @contextmanager
    def watching(self) -> Iterator[PhaseLog]:
        log = self

        class Watched(Exchange):
            __slots__ = ()

            def __init__(self, *args: Any) -> None:
                super().__init__(*args)
                log.exchanges.append(self)

            def __setattr__(self, name: str, value: Any) -> None:
                table = _TABLES.get(name)
                if table is not None and hasattr(self, name):
                    old = getattr(self, name)
                    if value != old:
                        assert value in table[old], f"{name}: {old.name} → {value.name}"
                        log.changes.append((name, old.name, value.name))
                object.__setattr__(self, name, value)

        with mock.patch.object(client_module, "Exchange", Watched):
            yield self
