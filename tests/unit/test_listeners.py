"""listeners.py: the sockets a plan needs, and the socket work of a reload, decided without I/O."""

from __future__ import annotations

from typing import Any

import pytest

from probegate.proxy.listeners import Endpoint, ListenerChanges, endpoints, plan_listeners
from tests.unit.proxyrig import DOCUMENT, plan_of


def wanted(*listeners: tuple[str, int, list[str]]) -> dict[Endpoint, list[Any]]:
    """Sockets for Http listeners given as (bind address, port, host names)."""
    items = [
        {"name": f"l{i}", "port": port, "protocol": "Http", "bindAddress": address,
         "hostNames": names}
        for i, (address, port, names) in enumerate(listeners)
    ]  # fmt: skip
    plan = plan_of(
        {
            **DOCUMENT,
            "httpListeners": items,
            "requestRoutingRules": [
                {"name": f"r{i}", "ruleType": "Basic", "httpListener": item["name"],
                 "priority": 10 + i, "backendAddressPool": "web", "backendHttpSettings": "plain"}
                for i, item in enumerate(items)
            ],
        }
    )  # fmt: skip
    return endpoints(plan.listeners)


def http(address: str, port: int) -> Endpoint:
    return Endpoint(address, port, tls=False)


def https(address: str, port: int) -> Endpoint:
    return Endpoint(address, port, tls=True)


def test_one_socket_per_address_and_port_and_the_any_address_takes_its_port() -> None:
    found = wanted(("127.0.0.1", 8080, []), ("127.0.0.2", 8080, []), ("0.0.0.0", 9090, []),
                   ("127.0.0.1", 9090, ["a.example.test"]))  # fmt: skip
    assert sorted(found, key=str) == sorted(
        [http("127.0.0.1", 8080), http("127.0.0.2", 8080), http("0.0.0.0", 9090)], key=str
    )
    assert [x.name for x in found[http("0.0.0.0", 9090)]] == ["l2", "l3"]


@pytest.mark.parametrize(
    ("bound", "want", "changes"),
    [
        pytest.param(
            [], [http("127.0.0.1", 80)], ListenerChanges((), (http("127.0.0.1", 80),), (), ()),
            id="start",
        ),
        pytest.param(
            [http("127.0.0.1", 80), https("127.0.0.1", 443)],
            [http("127.0.0.1", 80), https("127.0.0.1", 443)],
            ListenerChanges((), (), (), (https("127.0.0.1", 443),)),
            id="unchanged: kept HTTPS sockets get their certificates",
        ),
        pytest.param(
            [http("127.0.0.1", 80)], [https("127.0.0.1", 80)],
            ListenerChanges((http("127.0.0.1", 80),), (https("127.0.0.1", 80),), (), ()),
            id="http-to-https-on-one-port: close first",
        ),
        pytest.param(
            [http("127.0.0.1", 80)], [http("0.0.0.0", 80)],
            ListenerChanges((http("127.0.0.1", 80),), (http("0.0.0.0", 80),), (), ()),
            id="to-the-any-address: close first",
        ),
        pytest.param(
            [http("127.0.0.1", 80)], [http("127.0.0.1", 81)],
            ListenerChanges((), (http("127.0.0.1", 81),), (http("127.0.0.1", 80),), ()),
            id="another-port: close after the bind",
        ),
    ],
)  # fmt: skip
def test_reload_plans(
    bound: list[Endpoint], want: list[Endpoint], changes: ListenerChanges
) -> None:
    assert plan_listeners(bound, dict.fromkeys(want)) == changes
