"""Join the backend-health documents of several instances into one fleet document.

Rules of this module:
- pure: values in, a JSON-ready dict out; no I/O, no clock, nothing of the instances' transport;
- a server is one (pool, settings, address) row; every row has one cell per instance, in the
  order the instances were given, so a reader can line the cells up with `instances`;
- an instance that was not reached has no cells of its own data (`missing: "unreachable"`); one
  that answered without that row has `missing: "not-configured"`; neither hides the others' data;
- the joined verdict counts only the instances that report the row: `Healthy on 2 of 3
  instances`; the instances agree when every reached instance reports the row in one state;
- states keep their API spelling in every language; the words around them follow `lang`.

The document (README "Fleet view" lists the same fields):

    instances[]: name, url, reachable, problem {code, message, status} | null
    servers[]:   backendAddressPool, backendHttpSettings, address, state (a health state, or
                 "Mixed" when the instances disagree), agree, healthyOn, reportedBy, verdict,
                 instances[]: instance, health | null, reason | null, message | null,
                              missing ("unreachable" | "not-configured") | null
    summary:     instances, reachable, unreachable, servers, healthyEverywhere, disagreements
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from probegate.i18n import Lang, Words

MIXED = "Mixed"
UNREACHABLE, NOT_CONFIGURED = "unreachable", "not-configured"

# Exit statuses of `probegate backend-health` over several instances (helptext and README say the
# same): 2 stays "the admin API cannot be reached", as for one instance, when none answered.
EXIT_HEALTHY, EXIT_UNHEALTHY, EXIT_NONE_REACHED, EXIT_SOME_UNREACHABLE = 0, 1, 2, 3

_VERDICT = Words("{state} on {count} of {of} instances", "인스턴스 {of}개 중 {count}개에서 {state}")
_ABSENT = Words(" · not configured on {count}", " · {count}개에는 구성 없음")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why an instance gave no backend-health document."""

    code: str  # connection-refused, timeout, unauthorized, http-error, not-json, unreachable
    message: str  # in the language asked for
    status: int | None = None  # the HTTP status, when the instance answered with an error


@dataclass(frozen=True, slots=True)
class Report:
    """One instance's answer: its backend-health document, or the problem that stopped it."""

    name: str
    url: str
    document: Mapping[str, Any] | None
    problem: Problem | None = None


Key = tuple[str, str, str]  # pool, settings, server address


def verdict(state: str, count: int, of: int, lang: Lang = Lang.EN, absent: int = 0) -> str:
    """`Healthy on 2 of 3 instances`; `absent`: instances that answered without the server."""
    said = _VERDICT.in_(lang).format(state=state, count=count, of=of)
    return said + (_ABSENT.in_(lang).format(count=absent) if absent else "")


def servers_of(document: Mapping[str, Any]) -> Iterator[tuple[Key, Mapping[str, Any]]]:
    for pool in document["backendAddressPools"]:
        pool_name = pool["backendAddressPool"]["name"]
        for item in pool["backendHttpSettingsCollection"]:
            settings = item["backendHttpSettings"]["name"]
            for server in item["servers"]:
                yield (pool_name, settings, server["address"]), server


def join(reports: Sequence[Report], lang: Lang = Lang.EN) -> dict[str, Any]:
    """The fleet document of `reports` (one per instance, in the order given)."""
    rows: dict[Key, dict[str, Mapping[str, Any]]] = {}
    for report in reports:
        if report.document is None:
            continue
        for key, server in servers_of(report.document):
            rows.setdefault(key, {})[report.name] = server
    reached = [r for r in reports if r.document is not None]
    servers = [_row(key, found, reports, len(reached), lang) for key, found in rows.items()]
    return {
        "instances": [_instance(r) for r in reports],
        "servers": servers,
        "summary": {
            "instances": len(reports),
            "reachable": len(reached),
            "unreachable": len(reports) - len(reached),
            "servers": len(servers),
            "healthyEverywhere": sum(1 for s in servers if s["agree"] and s["state"] == "Healthy"),
            "disagreements": sum(1 for s in servers if not s["agree"]),
        },
    }


def exit_status(fleet: Mapping[str, Any]) -> int:
    """0 every server Healthy on every instance; 1 a server is not Healthy somewhere (or not
    configured everywhere); 3 an instance could not be reached; 2 none could."""
    summary = fleet["summary"]
    if summary["instances"] and not summary["reachable"]:
        return EXIT_NONE_REACHED
    if summary["unreachable"]:
        return EXIT_SOME_UNREACHABLE
    if summary["healthyEverywhere"] == summary["servers"]:
        return EXIT_HEALTHY
    return EXIT_UNHEALTHY


def _instance(report: Report) -> dict[str, Any]:
    problem = report.problem
    if report.document is None and problem is None:
        problem = Problem("unreachable", "no answer")
    return {
        "name": report.name,
        "url": report.url,
        "reachable": report.document is not None,
        "problem": None
        if problem is None
        else {"code": problem.code, "message": problem.message, "status": problem.status},
    }


def _row(
    key: Key,
    found: Mapping[str, Mapping[str, Any]],
    reports: Sequence[Report],
    reached: int,
    lang: Lang,
) -> dict[str, Any]:
    states = [str(server["health"]) for server in found.values()]
    healthy = states.count("Healthy")
    one_state = len(set(states)) == 1
    state = states[0] if one_state else MIXED
    # One state everywhere it is reported: that state on all of them; else how many are Healthy.
    count = len(states) if one_state else healthy
    words = verdict(
        state if one_state else "Healthy", count, len(states), lang, reached - len(found)
    )
    return {
        "backendAddressPool": key[0],
        "backendHttpSettings": key[1],
        "address": key[2],
        "state": state,
        "agree": one_state and len(found) == reached,
        "healthyOn": healthy,
        "reportedBy": len(found),
        "verdict": words,
        "instances": [_cell(r, found.get(r.name)) for r in reports],
    }


def _cell(report: Report, server: Mapping[str, Any] | None) -> dict[str, Any]:
    if server is None:
        missing = UNREACHABLE if report.document is None else NOT_CONFIGURED
        return {"instance": report.name, "health": None, "reason": None, "message": None,
                "missing": missing}  # fmt: skip
    return {
        "instance": report.name,
        "health": server["health"],
        "reason": server["reason"],
        "message": server.get("healthProbeLog"),
        "missing": None,
    }
