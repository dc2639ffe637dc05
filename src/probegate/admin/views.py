"""The only place that shapes health JSON: the model's backend-health document plus extensions.

Rules of this module:
- camelCase keys as the model's API prints them (SPEC section 8); `pascal_case` converts the whole
  document to the PowerShell shape;
- plain functions of snapshot values and a language; no I/O, no framework types.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from probegate.config.effective import EffectiveProbe
from probegate.health import messages
from probegate.health.codes import Reason
from probegate.health.result import ProbeResult
from probegate.health.transitions import Record
from probegate.i18n import Lang
from probegate.state.history import Availability
from probegate.state.snapshot import Snapshot, TargetView

RESOURCE_ROOT = "/probegate/applicationGateways/gateway"


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return (
        datetime.fromtimestamp(epoch, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def resource(collection: str, name: str) -> dict[str, str]:
    return {"name": name, "id": f"{RESOURCE_ROOT}/{collection}/{name}"}


def backend_health(
    snapshot: Snapshot,
    lang: Lang = Lang.EN,
    *,
    history: dict[str, tuple[ProbeResult, ...]] | None = None,
) -> dict[str, Any]:
    """The model's `backendhealth` document; `history` (by target key) adds `history` per server."""
    pools: dict[str, list[dict[str, Any]]] = {}
    for group, views in snapshot.groups().items():
        servers = [
            server(
                v,
                lang,
                history.get(str(v.probe.target.key)) if history else None,
                None if v.previous else snapshot.availability.get(str(v.probe.target.key)),
            )
            for v in views
        ]
        pools.setdefault(group.pool, []).append(
            {
                "backendHttpSettings": resource("backendHttpSettingsCollection", group.settings),
                "servers": servers,
            }
        )
    return {
        "backendAddressPools": [
            {
                "backendAddressPool": resource("backendAddressPools", pool),
                "backendHttpSettingsCollection": items,
            }
            for pool, items in pools.items()
        ]
    }


def server(
    view: TargetView,
    lang: Lang,
    history: tuple[ProbeResult, ...] | None = None,
    availability: Availability | None = None,
) -> dict[str, Any]:
    record, probe = view.record, view.probe
    facts = facts_for(record, probe)
    shown: dict[str, Any] = {
        "address": probe.target.key.server,
        "health": record.state.value,
        "healthProbeLog": messages.message(record.reason, facts, lang),
        "reason": record.reason.value,
        "remedy": messages.remedy(record.reason, facts, lang),
        "consecutiveFailures": record.consecutive_failures,
        "unhealthyThreshold": probe.unhealthy_threshold.value,
        "consecutiveSuccesses": record.consecutive_successes,
        "healthyThreshold": probe.healthy_threshold.value,
        "lastProbe": last_probe(record.last_result),
        "lastSuccess": iso(record.last_success_at),
        "since": iso(record.since),
        "warnings": warnings(record.last_result, lang),
        "routable": view.routing.routable,
        "routableByMinServers": view.routing.by_min_servers,
        "warmingUp": view.warming,
        "rampingUp": view.ramp,  # slow start: its share of new requests while it ramps up
        "probe": probe_summary(probe),
    }
    if availability is not None:
        # From the lasting history: share of time Healthy (None: nothing known yet).
        shown["availability"] = {"lastHour": availability.hour, "lastDay": availability.day}
        shown["flapping"] = availability.flapping
    if view.previous:
        # Removed (or moved) by the last reload; serves until a new server of the group passes.
        shown["removedByReload"] = True
    if history is not None:
        shown["history"] = [result_summary(r, lang) for r in reversed(history)]
    return shown


def probe_summary(probe: EffectiveProbe) -> dict[str, Any]:
    """What the probe of a target is: enough for a reader to say "every 1 s, timeout 1 s"."""
    return {
        "url": probe.url,
        "host": probe.host.value,
        "name": probe.probe_name,
        "protocol": probe.protocol.value.value,
        "interval": probe.interval.value,
        "timeout": probe.timeout.value,
    }


def facts_for(record: Record, probe: EffectiveProbe) -> dict[str, str]:
    """The facts a record's message names: its last result's, or what the probe itself says."""
    if record.last_result is not None and record.reason is record.last_result.reason:
        return record.last_result.facts
    facts = {"interval": str(probe.interval.value), "url": probe.url}
    draining = probe.target.settings.draining
    if record.reason is Reason.DRAINING and draining is not None:
        facts["drain_timeout"] = str(draining.timeout)
    if record.reason is Reason.PASSIVE_EJECTION:
        facts.update(record.note)
    if record.reason is Reason.RECOVERING:
        facts["passes"] = str(record.consecutive_successes)
        facts["needed"] = str(probe.healthy_threshold.value)
    return facts


def last_probe(result: ProbeResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    phases = {
        name: result.phases_ms.get(name) for name in ("resolve", "connect", "tls", "response")
    }
    return {
        "time": iso(result.at),
        "durationMs": result.duration_ms,
        "phases": phases,
        "status": result.status,
        "reason": result.reason.value,
        "certificateExpiry": iso(result.certificate_expiry),
    }


def warnings(result: ProbeResult | None, lang: Lang) -> list[dict[str, Any]]:
    if result is None:
        return []
    return [
        {"code": w.code.value, "message": messages.warning_text(w.code, w.facts, lang), **w.facts}
        for w in result.warnings
    ]


def result_summary(result: ProbeResult, lang: Lang) -> dict[str, Any]:
    return {
        "time": iso(result.at),
        "reason": result.reason.value,
        "passed": result.passed,
        "status": result.status,
        "durationMs": result.duration_ms,
        "message": messages.message(result.reason, result.facts, lang),
    }


def ondemand_server(probe: EffectiveProbe, result: ProbeResult, lang: Lang) -> dict[str, Any]:
    """One server of an on-demand answer: this probe's own verdict, not the target's state."""
    return {
        "address": probe.target.key.server,
        "health": "Healthy" if result.passed else "Unhealthy",
        "healthProbeLog": messages.message(result.reason, result.facts, lang),
        "reason": result.reason.value,
        "remedy": messages.remedy(result.reason, result.facts, lang),
        "lastProbe": last_probe(result),
        "warnings": warnings(result, lang),
        "probe": probe_summary(probe),
    }


def one_shot_health(
    results: list[tuple[EffectiveProbe, ProbeResult]], lang: Lang
) -> dict[str, Any]:
    """The backend-health document of one probe per target (`backend-health -c`): each server
    shows that probe's verdict, as an on-demand probe does, not a state built over time."""
    pools: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for probe, result in results:
        key = probe.target.key
        server = ondemand_server(probe, result, lang)
        server.update(
            consecutiveFailures=0 if result.passed else 1,
            unhealthyThreshold=probe.unhealthy_threshold.value,
            lastSuccess=iso(result.at) if result.passed else None,
            routable=result.passed,
            routableByMinServers=False,
        )
        pools.setdefault(key.pool, {}).setdefault(key.settings, []).append(server)
    return {
        "backendAddressPools": [
            {
                "backendAddressPool": resource("backendAddressPools", pool),
                "backendHttpSettingsCollection": [
                    {
                        "backendHttpSettings": resource("backendHttpSettingsCollection", name),
                        "servers": servers,
                    }
                    for name, servers in items.items()
                ],
            }
            for pool, items in pools.items()
        ]
    }


def pascal_case(value: Any) -> Any:
    """The PowerShell shape (`Get-AzApplicationGatewayBackendHealth`): PascalCase keys."""
    if isinstance(value, dict):
        return {k[:1].upper() + k[1:]: pascal_case(v) for k, v in value.items()}
    if isinstance(value, list):
        return [pascal_case(v) for v in value]
    return value


def all_healthy(document: dict[str, Any]) -> bool:
    return all(
        s["health"] == "Healthy"
        for pool in document["backendAddressPools"]
        for item in pool["backendHttpSettingsCollection"]
        for s in item["servers"]
    )
