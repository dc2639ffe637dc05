"""`probegate explain`: the effective probe of every target, as a table or as data.

Rules: reads the compiled plan and the effective probes only (no pydantic); rendering is here, the
decisions are in `config/effective.py`.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from probegate.config.effective import Decided, EffectiveProbe, TlsMode
from probegate.config.plan import Backend, GatewayPlan, Listener, PathMap, StatusMatch
from probegate.rewrites import placements, placements_table


def explain_data(plan: GatewayPlan, probes: tuple[EffectiveProbe, ...]) -> dict[str, Any]:
    return {
        "source": plan.source,
        "sku": plan.sku.value,
        "rules": plan.tier.value,
        "targets": [_target_data(p) for p in probes],
        "listeners": [_listener_tls(x) for x in plan.listeners if x.tls is not None],
        "rewrites": placements(plan),
    }


def _listener_tls(listener: Listener) -> dict[str, Any]:
    tls = listener.tls
    assert tls is not None
    return {
        "httpListener": listener.name,
        "address": f"{listener.bind_address}:{listener.port}",
        "protocols": list(tls.versions),
        "cipherSuites": list(tls.suites),
        "rule": tls.rule,
        "clientAuth": _client_auth_data(listener),
        "requireServerNameIndication": listener.require_sni,
    }


def _client_auth_data(listener: Listener) -> dict[str, Any] | None:
    auth = listener.client_auth
    if auth is None:
        return None
    return {
        "sslProfile": auth.profile,
        "trustedClientCertificates": len(auth.cas),
        "verifyClientCertIssuerDN": auth.verify_issuer_dn,
        "verifyClientRevocation": "OCSP" if auth.ocsp else "None",
    }


def _client_auth_text(listener: Listener) -> tuple[str, str]:
    auth = listener.client_auth
    if auth is None:
        return "off", "no sslProfile with trustedClientCertificates"
    return "required (400 without a valid certificate)", auth.describe()


def _sni_text(listener: Listener) -> tuple[str, str]:
    if listener.require_sni:
        return "required", "requireServerNameIndication: a handshake naming no listener is refused"
    return "optional", "requireServerNameIndication: false (the default)"


def _target_data(probe: EffectiveProbe) -> dict[str, Any]:
    target = probe.target
    fields: dict[str, Decided[Any]] = {
        "method": probe.method,
        "protocol": probe.protocol,
        "port": probe.port,
        "path": probe.path,
        "host": probe.host,
        "sni": probe.sni,
        "verifyName": probe.verify_name,
        "tls": probe.tls,
        "interval": probe.interval,
        "timeout": probe.timeout,
        "unhealthyThreshold": probe.unhealthy_threshold,
        "healthyThreshold": probe.healthy_threshold,
        "headers": probe.headers,
        "minServers": probe.min_servers,
    }
    data: dict[str, Any] = {
        "backendAddressPool": target.key.pool,
        "backendHttpSettings": target.key.settings,
        "server": target.key.server,
        "probe": probe.probe_name,
        "url": probe.url,
    }
    for key, decided in fields.items():
        data[key] = {"value": decided.value, "rule": decided.rule}
    data["match"] = {
        "value": {"statusCodes": _status_list(probe.match.value), "body": probe.match.value.body},
        "rule": probe.match.rule,
    }
    return data


def _status_list(match: StatusMatch) -> list[str]:
    return [str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in match.ranges]


# ------------------------------------------------------------------------ table


def render(console: Console, plan: GatewayPlan, probes: tuple[EffectiveProbe, ...]) -> None:
    head = f"{plan.source}: sku {plan.sku.value} ({plan.tier.value} rules), {len(probes)} probe target(s)"
    console.print(Text(head, style="bold"))
    if not probes:
        console.print(nothing_probed(plan))
    for probe in probes:
        console.print(Group(_target_table(probe)))
    for listener in plan.listeners:
        if listener.tls is not None:
            console.print(_listener_table(listener))
    if (rewrites := placements_table(plan)) is not None:
        console.print(rewrites)


def _listener_table(listener: Listener) -> Table:
    tls = listener.tls
    assert tls is not None
    table = Table(
        title=f"listener '{listener.name}' · https://{listener.bind_address}:{listener.port} · TLS",
        title_justify="left",
    )
    for column in ("value", "effective", "decided by"):
        table.add_column(column)
    table.add_row("protocols", ", ".join(tls.versions), tls.rule)
    table.add_row("cipher suites", "\n".join(tls.suites) or "(none)", "in priority order")
    table.add_row("client certificate", *_client_auth_text(listener))
    table.add_row("server name (SNI)", *_sni_text(listener))
    return table


def nothing_probed(plan: GatewayPlan) -> str:
    """Why a plan has no probe targets: its rules reach only empty pools, or no rule reaches a
    pool at all."""
    empty = sorted({b.pool.name for b in _backends(plan) if not b.pool.members})
    if empty:
        names = ", ".join(f"'{name}'" for name in empty)
        return (
            f"Nothing is probed: the rules send traffic to {names}, which "
            f"{'has' if len(empty) == 1 else 'have'} no servers (requests get 502). List the "
            "servers under backendAddresses."
        )
    return "No routing rule binds a backend pool to settings: nothing is probed."


def _backends(plan: GatewayPlan) -> list[Backend]:
    found: list[Backend] = []
    for rule in plan.rules:
        destination = rule.destination
        if isinstance(destination, PathMap):
            found.extend(d for d in (destination.default, *(r.destination for r in destination.rules)) if isinstance(d, Backend))  # fmt: skip
        elif isinstance(destination, Backend):
            found.append(destination)
    return found


def _target_table(probe: EffectiveProbe) -> Table:
    key = probe.target.key
    which = f"probe '{probe.probe_name}'" if probe.probe_name else "default probe"
    table = Table(
        title=f"pool '{key.pool}' · settings '{key.settings}' · server {key.server} · {which}",
        title_justify="left",
        show_lines=False,
        expand=False,
    )
    table.add_column("value", style="bold")
    table.add_column("effective")
    table.add_column("decided by", style="dim")
    match = probe.match.value
    shown_match = match.describe() + (f' and body contains "{match.body}"' if match.body else "")
    rows: list[tuple[str, str, str]] = [
        ("request", f"{probe.method.value} {probe.url}", f"port: {probe.port.rule}"),
        ("path", probe.path.value, probe.path.rule),
        ("Host header", probe.host.value, probe.host.rule),
        ("TLS SNI", probe.sni.value or "(none)", probe.sni.rule),
        ("name verified", probe.verify_name.value or "(not checked)", probe.verify_name.rule),
        ("certificate trust", probe.tls.value.value, probe.tls.rule),
        ("interval", f"{probe.interval.value} s", probe.interval.rule),
        ("timeout", f"{probe.timeout.value} s", probe.timeout.rule),
        (
            "unhealthy threshold",
            str(probe.unhealthy_threshold.value),
            probe.unhealthy_threshold.rule,
        ),
        ("healthy threshold", str(probe.healthy_threshold.value), probe.healthy_threshold.rule),
        ("extra headers", _headers_text(probe), probe.headers.rule),
        ("min servers", str(probe.min_servers.value), probe.min_servers.rule),
        ("healthy when", shown_match, probe.match.rule),
    ]
    for name, value, rule in rows:
        style = "bold red" if value == TlsMode.INSECURE_SKIP_VERIFY.value else None
        table.add_row(name, Text(value, style=style or ""), rule)
    return table


def _headers_text(probe: EffectiveProbe) -> str:
    return ", ".join(f"{name}: {value}" for name, value in probe.headers.value) or "(none)"
