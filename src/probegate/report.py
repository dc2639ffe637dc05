"""Terminal rendering of backend health (`probegate backend-health`, `probegate probe`).

Rules: reads the JSON documents `admin/views.py` shapes — the same whether they came from a running
gateway's API or from a one-shot probe of a file — so the CLI and the API never disagree.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

STATE_STYLE = {
    "Healthy": "bold green",
    "Unhealthy": "bold red",
    "Unknown": "bold yellow",
    "Draining": "bold cyan",
}


def render_health(console: Console, document: dict[str, Any], *, remedies: bool = True) -> None:
    for pool in document["backendAddressPools"]:
        pool_name = pool["backendAddressPool"]["name"]
        for item in pool["backendHttpSettingsCollection"]:
            settings = item["backendHttpSettings"]["name"]
            console.print(
                _table(f"pool '{pool_name}' · settings '{settings}'", item["servers"], remedies)
            )
    if not document["backendAddressPools"]:
        console.print("No probe targets: no routing rule binds a backend pool to settings.")


def render_ondemand(console: Console, document: dict[str, Any], *, remedies: bool = True) -> None:
    pool = document["backendAddressPool"]["name"]
    item = document["backendHealthHttpSettings"]
    settings = item["backendHttpSettings"]["name"]
    title = f"on-demand probe · pool '{pool}' · settings '{settings}'"
    console.print(_table(title, item["servers"], remedies))


def _table(title: str, servers: list[dict[str, Any]], remedies: bool) -> Table:
    table = Table(title=title, title_justify="left", show_lines=True, expand=False)
    table.add_column("server", no_wrap=True)
    table.add_column("health", no_wrap=True)
    table.add_column("reason", no_wrap=True)
    table.add_column("details")
    table.add_column("failures", justify="right", no_wrap=True)
    table.add_column("last probe", no_wrap=True)
    for server in servers:
        table.add_row(
            server["address"],
            Text(server["health"], style=STATE_STYLE.get(server["health"], "")),
            server["reason"],
            _details(server, remedies),
            _failures(server),
            _last_probe(server.get("lastProbe")),
        )
    return table


def _details(server: dict[str, Any], remedies: bool) -> Text:
    text = Text(server["healthProbeLog"])
    for warning in server.get("warnings", []):
        text.append(f"\n⚠ {warning['message']}", style="yellow")
    if remedies and server["reason"] != "success" and server.get("remedy"):
        text.append(f"\n→ {server['remedy']}", style="dim")
    if server.get("routableByMinServers"):
        text.append("\n(routed anyway: minServers)", style="cyan")
    return text


def _failures(server: dict[str, Any]) -> str:
    if "consecutiveFailures" not in server:
        return ""
    return f"{server['consecutiveFailures']}/{server['unhealthyThreshold']}"


def _last_probe(last: dict[str, Any] | None) -> str:
    if not last:
        return "—"
    status = f" {last['status']}" if last.get("status") else ""
    return f"{last['time'][11:19]}Z{status} {last['durationMs']:.0f} ms"
