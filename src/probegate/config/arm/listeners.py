"""What the ARM import settles after the gateway's collections are read: listeners that share a
port on different frontend IP configurations, pools whose members only Azure adds, and
parameters nothing converted needed.

Rules: each function reads the converted config and the reader's records, may add a value the
conversion chose (always with a note saying so), and never raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from probegate.config.arm.read import Reader


def bind_apart(
    config: dict[str, Any], origins: Mapping[str, tuple[str, object]], reader: Reader
) -> None:
    """Azure tells listeners apart by frontend IP configuration as well as by port (the IPv4 and
    IPv6 listeners of one port, a public and a private one). probegate binds every listener to
    loopback unless told otherwise, so listeners that share a port on different configurations
    each get an address of their own: the first configuration keeps 127.0.0.1, an IPv6 one gets
    ::1, any other 127.0.0.2, 127.0.0.3, ..."""
    listeners = config.get("httpListeners", [])
    configs: dict[int, str] = {}
    for index in range(len(listeners)):
        origin = origins.get(f"httpListeners[{index}]")
        name = reader.listener_frontends.get(origin[0]) if origin else None
        if name is not None:
            configs[index] = name
    by_port: dict[object, list[int]] = {}
    for index, listener in enumerate(listeners):
        by_port.setdefault(listener.get("port"), []).append(index)
    apart = {configs[i] for group in by_port.values() if len({configs.get(i) for i in group} - {None}) > 1 for i in group if i in configs}  # fmt: skip
    if not apart:
        return
    addresses = _addresses(
        [name for name in dict.fromkeys(configs.values()) if name in apart], reader
    )
    for index, name in configs.items():
        address = addresses.get(name)
        if address is None or "bindAddress" in listeners[index]:
            continue
        listeners[index]["bindAddress"] = address
        reader.notes.append(
            f"httpListeners[{index}] '{listeners[index].get('name')}': on frontend IP "
            f"configuration '{name}', which shares port {listeners[index].get('port')} with "
            f"another configuration: bound to {address} so the two stay apart; set bindAddress "
            "to the address it should serve"
        )


def _addresses(names: list[str], reader: Reader) -> dict[str, str | None]:
    chosen: dict[str, str | None] = {}
    v6_taken, next_v4 = False, 2
    for position, name in enumerate(names):
        if position == 0:
            chosen[name] = None  # the default bind address, 127.0.0.1
        elif name.lower() in reader.ipv6_frontends and not v6_taken:
            chosen[name], v6_taken = "::1", True
        else:
            chosen[name], next_v4 = f"127.0.0.{next_v4}", next_v4 + 1
    return chosen


def empty_pools(config: dict[str, Any], reader: Reader) -> None:
    """A pool whose members come from network interfaces or a scale set is empty after the
    import: say so where it matters, since every request routed to it gets a 502."""
    joined: dict[str, list[str]] = {}
    for pool, resource in reader.joined_from:
        joined.setdefault(pool.lower(), []).append(resource)
    for index, pool in enumerate(config.get("backendAddressPools", [])):
        if pool.get("backendAddresses"):
            continue
        name = str(pool.get("name", ""))
        sources = joined.get(name.lower())
        where = f"backendAddressPools[{index}] '{name}'"
        if sources:
            reader.notes.append(
                f"{where} is empty: its members join from {', '.join(sources)} when Azure "
                "deploys it; list the servers' addresses under backendAddresses, or requests "
                "routed to it are answered 502"
            )
        else:
            reader.notes.append(f"{where} is empty: requests routed to it are answered 502")


def unused_missing(reader: Reader) -> None:
    """Parameters without a value that nothing converted read: said once, not asked for."""
    scope = reader.scope
    if scope is None:
        return
    unused = [spelled for key, (spelled, _) in scope.missing.items() if key not in scope.asked]
    if unused:
        names = ", ".join(unused)
        reader.ignored.append(
            f"parameters: {names} (no value given; only fields probegate ignores use them)"
        )
