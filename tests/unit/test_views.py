"""admin/views.py: the backend-health JSON, shaped from snapshot values alone (no server)."""

from __future__ import annotations

from typing import Any

import pytest

from probegate.admin import views
from probegate.config.effective import effective_probes
from probegate.health.codes import Reason
from probegate.health.result import ProbeResult
from probegate.i18n import Lang
from probegate.state.store import HealthStore
from tests.unit.fakeclock import Clock
from tests.unit.proxyrig import plan_of

AT = 1_700_000_000.25  # 2023-11-14T22:13:20.250Z


def store_with(*reasons: Reason) -> tuple[HealthStore, Clock]:
    """The rig's plan (pools web and shop), each target given these results in turn."""
    plan = plan_of()
    clock = Clock(500.0)
    store = HealthStore(plan.tier, effective_probes(plan), monotonic=clock)
    for reason in reasons:
        for probe in store.probes:
            status = 200 if reason is Reason.SUCCESS else None
            result = ProbeResult(reason, {}, AT, 12.5, {"connect": 1.5}, status=status)
            store.record(probe.target.key, result)
        clock.now += 1
    store.flush()
    return store, clock


def servers(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for pool in document["backendAddressPools"]
        for item in pool["backendHttpSettingsCollection"]
        for s in item["servers"]
    ]


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        pytest.param(None, None, id="none"),
        pytest.param(0.0, "1970-01-01T00:00:00.000Z", id="epoch"),
        pytest.param(AT, "2023-11-14T22:13:20.250Z", id="milliseconds-and-Z"),
    ],
)
def test_times_are_iso_in_utc(epoch: float | None, text: str | None) -> None:
    assert views.iso(epoch) == text


def test_the_document_has_the_models_shape() -> None:
    store, _ = store_with(Reason.SUCCESS)
    document = views.backend_health(store.view())
    pools = document["backendAddressPools"]
    assert [p["backendAddressPool"]["name"] for p in pools] == ["web", "shop"]
    web = pools[0]
    assert web["backendAddressPool"]["id"] == f"{views.RESOURCE_ROOT}/backendAddressPools/web"
    (item,) = web["backendHttpSettingsCollection"]
    assert item["backendHttpSettings"]["name"] == "plain"
    (server,) = item["servers"]
    assert server["address"] == "127.0.1.1:8081"
    assert server["health"] == "Healthy"
    assert server["routable"] is True
    assert server["lastProbe"] == {
        "time": "2023-11-14T22:13:20.250Z",
        "durationMs": 12.5,
        "phases": {"resolve": None, "connect": 1.5, "tls": None, "response": None},
        "status": 200,
        "reason": "success",
        "certificateExpiry": None,
    }
    assert server["probe"]["protocol"] == "Http"
    assert views.all_healthy(document)


def test_a_failing_server_says_why_and_what_to_do_in_each_language() -> None:
    store, _ = store_with(*[Reason.TCP_CONNECT_ERROR] * 3)
    snapshot = store.view()
    english, korean = (servers(views.backend_health(snapshot, lang))[0] for lang in Lang)
    assert english["health"] == "Unhealthy"
    assert english["reason"] == korean["reason"] == "tcp-connect-error"
    assert english["consecutiveFailures"] == 3
    assert english["healthProbeLog"] != korean["healthProbeLog"]
    assert english["remedy"]
    assert not views.all_healthy(views.backend_health(snapshot))


def test_history_comes_newest_first() -> None:
    store, _ = store_with(Reason.TCP_CONNECT_ERROR, Reason.SUCCESS)
    key = store.probes[0].target.key
    document = views.backend_health(store.view(), history={str(key): store.history_of(key)})
    history = servers(document)[0]["history"]
    assert [h["reason"] for h in history] == ["success", "tcp-connect-error"]
    assert [h["passed"] for h in history] == [True, False]
    assert "history" not in servers(document)[1]  # only the targets asked for


def test_one_shot_health_shows_each_probes_own_verdict() -> None:
    plan = plan_of()
    probes = effective_probes(plan)
    results = [
        (probes[0], ProbeResult(Reason.SUCCESS, {}, AT, 3.0, {}, status=200)),
        (probes[1], ProbeResult(Reason.TCP_CONNECT_ERROR, {}, AT, 3.0, {})),
    ]
    document = views.one_shot_health(results, Lang.EN)
    first, second = servers(document)
    assert (first["health"], first["consecutiveFailures"], first["routable"]) == (
        "Healthy",
        0,
        True,
    )
    assert (second["health"], second["consecutiveFailures"], second["lastSuccess"]) == (
        "Unhealthy",
        1,
        None,
    )


@pytest.mark.parametrize(
    ("value", "shaped"),
    [
        pytest.param({"a": 1}, {"A": 1}, id="keys"),
        pytest.param({"backendAddressPools": [{"servers": []}]}, {"BackendAddressPools": [{"Servers": []}]}, id="nested"),
        pytest.param(["x", {"yZ": None}], ["x", {"YZ": None}], id="lists"),
        pytest.param("text", "text", id="leaves"),
    ],
)  # fmt: skip
def test_pascal_case_is_the_powershell_shape(value: Any, shaped: Any) -> None:
    assert views.pascal_case(value) == shaped
