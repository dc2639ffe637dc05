"""The fleet view's join (pure): N instance reports → one row per server with every instance's
cell and the joined verdict; the exit status it implies."""

from __future__ import annotations

from typing import Any

import pytest

from probegate.fleet.join import Problem, Report, exit_status, join, verdict
from probegate.i18n import Lang


def document(*servers: tuple[str, str, str, str, str]) -> dict[str, Any]:
    """(pool, settings, address, health, reason) rows → a backend-health document."""
    pools: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for pool, settings, address, health, reason in servers:
        server = {"address": address, "health": health, "reason": reason,
                  "healthProbeLog": f"{address} {reason}"}  # fmt: skip
        pools.setdefault(pool, {}).setdefault(settings, []).append(server)
    return {
        "backendAddressPools": [
            {
                "backendAddressPool": {"name": pool},
                "backendHttpSettingsCollection": [
                    {"backendHttpSettings": {"name": name}, "servers": servers}
                    for name, servers in items.items()
                ],
            }
            for pool, items in pools.items()
        ]
    }


WEB_OK = ("web", "http", "10.0.0.1:80", "Healthy", "success")
WEB_DOWN = ("web", "http", "10.0.0.1:80", "Unhealthy", "connection-refused")
API_OK = ("api", "http", "10.0.0.2:80", "Healthy", "success")
API_UNKNOWN = ("api", "http", "10.0.0.2:80", "Unknown", "not-probed-yet")


def report(name: str, *servers: tuple[str, str, str, str, str]) -> Report:
    return Report(name, f"http://{name}:9090", document(*servers))


def down(name: str) -> Report:
    return Report(name, f"http://{name}:9090", None, Problem("connection-refused", "refused"))


def rows(fleet: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["address"]: s for s in fleet["servers"]}


@pytest.mark.parametrize(
    ("reports", "address", "expected"),
    [
        pytest.param(
            [report("a", WEB_OK), report("b", WEB_OK), report("c", WEB_DOWN)],
            "10.0.0.1:80", ("Mixed", False, 2, 3, "Healthy on 2 of 3 instances"),
            id="one-of-three-disagrees",
        ),
        pytest.param(
            [report("a", WEB_OK), report("b", WEB_OK)],
            "10.0.0.1:80", ("Healthy", True, 2, 2, "Healthy on 2 of 2 instances"),
            id="all-healthy",
        ),
        pytest.param(
            [report("a", WEB_DOWN), report("b", WEB_DOWN)],
            "10.0.0.1:80", ("Unhealthy", True, 0, 2, "Unhealthy on 2 of 2 instances"),
            id="unhealthy-everywhere-agrees",
        ),
        pytest.param(
            [report("a", WEB_DOWN), report("b", API_UNKNOWN, WEB_OK)],
            "10.0.0.1:80", ("Mixed", False, 1, 2, "Healthy on 1 of 2 instances"),
            id="order-of-servers-differs",
        ),
        pytest.param(
            [report("a", WEB_OK, API_OK), report("b", WEB_OK)],
            "10.0.0.2:80", ("Healthy", False, 1, 1, "Healthy on 1 of 1 instances · not configured on 1"),
            id="not-configured-on-one-is-a-disagreement",
        ),
        pytest.param(
            [report("a", WEB_OK), down("b"), report("c", WEB_OK)],
            "10.0.0.1:80", ("Healthy", True, 2, 2, "Healthy on 2 of 2 instances"),
            id="an-unreachable-instance-is-not-counted",
        ),
    ],
)  # fmt: skip
def test_rows_and_verdicts(
    reports: list[Report], address: str, expected: tuple[str, bool, int, int, str]
) -> None:
    """expected: state, agree, healthyOn, reportedBy, verdict."""
    row = rows(join(reports))[address]
    found = (row["state"], row["agree"], row["healthyOn"], row["reportedBy"], row["verdict"])
    assert found == expected
    assert [c["instance"] for c in row["instances"]] == [r.name for r in reports]


def test_every_instance_has_a_cell_saying_what_it_reported_or_why_not() -> None:
    fleet = join([report("a", WEB_OK, API_OK), down("b"), report("c", WEB_DOWN)])
    api = rows(fleet)["10.0.0.2:80"]
    assert api["instances"] == [
        {"instance": "a", "health": "Healthy", "reason": "success",
         "message": "10.0.0.2:80 success", "missing": None},
        {"instance": "b", "health": None, "reason": None, "message": None,
         "missing": "unreachable"},
        {"instance": "c", "health": None, "reason": None, "message": None,
         "missing": "not-configured"},
    ]  # fmt: skip
    web = rows(fleet)["10.0.0.1:80"]
    assert web["instances"][2]["reason"] == "connection-refused"
    assert fleet["instances"][1] == {
        "name": "b", "url": "http://b:9090", "reachable": False,
        "problem": {"code": "connection-refused", "message": "refused", "status": None},
    }  # fmt: skip
    assert fleet["summary"] == {
        "instances": 3, "reachable": 2, "unreachable": 1, "servers": 2,
        "healthyEverywhere": 0, "disagreements": 2,
    }  # fmt: skip


def test_rows_keep_the_order_the_instances_first_show_them() -> None:
    fleet = join([report("a", API_OK), report("b", WEB_OK, API_OK)])
    assert [s["address"] for s in fleet["servers"]] == ["10.0.0.2:80", "10.0.0.1:80"]


def test_the_same_address_in_two_pools_is_two_rows() -> None:
    other = ("api", "http", "10.0.0.1:80", "Healthy", "success")
    fleet = join([report("a", WEB_OK, other)])
    assert [(s["backendAddressPool"], s["address"]) for s in fleet["servers"]] == [
        ("web", "10.0.0.1:80"), ("api", "10.0.0.1:80"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("reports", "status"),
    [
        pytest.param([report("a", WEB_OK), report("b", WEB_OK)], 0, id="healthy-everywhere"),
        pytest.param([report("a", WEB_OK), report("b", WEB_DOWN)], 1, id="disagreement"),
        pytest.param([report("a", WEB_DOWN), report("b", WEB_DOWN)], 1, id="unhealthy-agreed"),
        pytest.param([report("a", WEB_OK), report("b", WEB_OK, API_OK)], 1, id="not-configured"),
        pytest.param([report("a", WEB_OK), down("b")], 3, id="one-unreachable"),
        pytest.param([report("a", WEB_DOWN), down("b")], 3, id="unreachable-wins-over-unhealthy"),
        pytest.param([down("a"), down("b")], 2, id="none-reached"),
        pytest.param([report("a"), report("b")], 0, id="no-targets-anywhere"),
    ],
)
def test_exit_status(reports: list[Report], status: int) -> None:
    assert exit_status(join(reports)) == status


def test_korean_verdict_keeps_the_state_spelling() -> None:
    fleet = join([report("a", WEB_OK), report("b", WEB_DOWN)], Lang.KO)
    assert fleet["servers"][0]["verdict"] == "인스턴스 2개 중 1개에서 Healthy"
    assert verdict("Unhealthy", 3, 3, Lang.KO) == "인스턴스 3개 중 3개에서 Unhealthy"


def test_a_report_without_document_or_problem_still_says_why() -> None:
    fleet = join([Report("a", "http://a:9090", None)])
    assert fleet["instances"][0]["problem"]["code"] == "unreachable"
