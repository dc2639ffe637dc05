"""What `probegate demo` prints: where everything listens, the backend-health tables (through
`report.py`), the traffic check, a summary, or all of it as one JSON document.

Rules: plain functions of values the demo collected; no I/O but the console handed in; every
sentence in English and Korean (`Words`), reason codes and states untranslated (they are API).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from probegate import report
from probegate.demo.lab import Lab, Scenario
from probegate.demo.scenarios import DEFAULT_POOL, PATH_RULES
from probegate.demo.traffic import Answer
from probegate.i18n import Lang, Words


@dataclass(frozen=True, slots=True)
class GatewayInfo:
    name: str
    sku: str
    listener: str
    admin: str
    config: Path


@dataclass(frozen=True, slots=True)
class Outcome:
    gateways: tuple[GatewayInfo, ...]
    documents: dict[str, dict[str, Any]]  # backend-health document by gateway name
    answers: tuple[Answer, ...]  # the traffic check through the v2 listener
    elapsed: float  # seconds until every target had its first verdict


@dataclass(frozen=True, slots=True)
class Check:
    scenario: Scenario
    health: str
    reason: str

    @property
    def as_expected(self) -> bool:
        return self.reason == self.scenario.expected.value


W = {
    "title": Words("probegate demo · everything on loopback", "probegate 데모 · 모두 루프백에서 실행"),
    "listener": Words("listener · gateway '{name}' ({sku})", "리스너 · 게이트웨이 '{name}' ({sku})"),
    "admin": Words("admin API · gateway '{name}'", "관리 API · 게이트웨이 '{name}'"),
    "admin routes": Words("/backendhealth · /openapi.json · /healthz", "/backendhealth · /openapi.json · /healthz"),
    "dns": Words("DNS server", "DNS 서버"),
    "backends": Words("sample backends", "샘플 백엔드"),
    "backend count": Words("{count} servers on {first} – {last}", "서버 {count}개, {first} – {last}"),
    "config": Words("configuration", "구성 파일"),
    "gateway": Words("gateway '{name}' · {sku} · {listener}", "게이트웨이 '{name}' · {sku} · {listener}"),
    "traffic": Words("traffic through {listener}", "{listener} 을(를) 거친 트래픽"),
    "request": Words("request", "요청"),
    "status": Words("status", "상태 코드"),
    "answer": Words("answer", "응답"),
    "no answer": Words("no HTTP answer", "HTTP 응답 없음"),
    "reasons": Words(
        "{count} distinct reason codes across {servers} servers: {codes}",
        "서버 {servers}개에서 서로 다른 원인 코드 {count}개: {codes}",
    ),
    "all expected": Words(
        "Every server shows the reason its scenario is built to produce.",
        "모든 서버가 시나리오대로의 원인 코드를 보여 줍니다.",
    ),
    "unexpected": Words(
        "{server} ({what}): expected {expected}, got {reason}",
        "{server} ({what}): 기대한 코드 {expected}, 실제 {reason}",
    ),
    "elapsed": Words("First verdict of every target after {seconds:.1f} s.", "모든 대상의 첫 판정까지 {seconds:.1f}초."),
    "skipped": Words("skipped: {what}", "건너뜀: {what}"),
    "running": Words(
        "Running until Ctrl-C. Try:", "Ctrl-C 를 누를 때까지 실행합니다. 해 볼 것:"
    ),
    "try healthy": Words("a healthy server of pool '{pool}'", "풀 '{pool}' 의 정상 서버가 응답"),
    "try broken": Words("502 naming pool '{pool}' and why", "풀 '{pool}' 과 원인을 밝히는 502"),
    "try watch": Words("the live table", "실시간 표"),
    "try diagnose": Words("every TLS case, phase by phase", "TLS 사례를 단계별로 진단"),
    "changes": Words("Health changes are logged below.", "상태 변화는 아래에 기록됩니다."),
}  # fmt: skip


def say(key: str, lang: Lang, **facts: object) -> str:
    return W[key].in_(lang).format(**facts)


def checks(lab: Lab, documents: dict[str, dict[str, Any]]) -> list[Check]:
    """Each scenario with what its gateway reports for it, in lab order."""
    shown = {
        (name, server["address"]): server
        for name, document in documents.items()
        for server in report.servers_of(document)
    }
    found = []
    for scenario in lab.scenarios:
        server = shown.get((scenario.gateway, scenario.server), {})
        found.append(Check(scenario, server.get("health", "?"), server.get("reason", "?")))
    return found


def distinct_reasons(outcome: Outcome) -> list[str]:
    return sorted({s["reason"] for d in outcome.documents.values() for s in report.servers_of(d)})


# ------------------------------------------------------------------------ text


def where(console: Console, lab: Lab, gateways: tuple[GatewayInfo, ...], lang: Lang) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for info in gateways:
        listener = _with_note(info.listener, _routes() if info.name == "demo" else "")
        grid.add_row(say("listener", lang, name=info.name, sku=info.sku), listener)
        grid.add_row(
            say("admin", lang, name=info.name), _with_note(info.admin, say("admin routes", lang))
        )
    answers = " · ".join(f"{name} → {answer}" for name, answer in lab.dns_answers.items())
    grid.add_row(say("dns", lang), _with_note(lab.dns.label, answers))
    grid.add_row(say("backends", lang), say("backend count", lang, **_span(lab)))
    for i, info in enumerate(gateways):
        grid.add_row(say("config", lang) if i == 0 else "", str(info.config))
    console.print(Text(say("title", lang), style="bold"))
    console.print(grid)
    for what in lab.skipped:
        console.print(say("skipped", lang, what=what), style="yellow")


def _with_note(value: str, note: str) -> Text:
    text = Text(value)
    if note:
        text.append(f"   {note}", style="dim")
    return text


def _routes() -> str:
    rules = [f"{r.path} → {r.pool}" for r in PATH_RULES]
    return " · ".join([*rules, f"/* → {DEFAULT_POOL}"])


def _span(lab: Lab) -> dict[str, object]:
    hosts = sorted(
        {s.server.rsplit(":", 1)[0] for s in lab.scenarios if s.server[0].isdigit()},
        key=lambda h: tuple(int(p) for p in h.split(".")),
    )
    return {"count": len(lab.scenarios), "first": hosts[0], "last": hosts[-1]}


def tables(console: Console, lab: Lab, outcome: Outcome, lang: Lang) -> None:
    labels = {s.server: s.what.in_(lang) for s in lab.scenarios}
    for info in outcome.gateways:
        title = say("gateway", lang, name=info.name, sku=info.sku, listener=info.listener)
        console.print(Rule(title, align="left"))
        report.render_health(console, outcome.documents[info.name], lang=lang, labels=labels)


def traffic(console: Console, outcome: Outcome, lang: Lang) -> None:
    listener = outcome.gateways[0].listener
    console.print(Rule(say("traffic", lang, listener=listener), align="left"))
    table = Table(show_edge=False, box=None, padding=(0, 2))
    table.add_column(say("request", lang), no_wrap=True)
    table.add_column(say("status", lang), no_wrap=True, justify="right")
    table.add_column(say("answer", lang))
    for answer in outcome.answers:
        status = Text(str(answer.status or "—"), style=_status_style(answer.status))
        body = (
            answer.body if answer.status is not None else f"{say('no answer', lang)}: {answer.body}"
        )
        table.add_row(f"GET {answer.path}", status, body)
    console.print(table)


def _status_style(status: int | None) -> str:
    if status is None or status >= 500:
        return "bold red"
    return "bold green" if status < 400 else "bold yellow"


def summary(console: Console, lab: Lab, outcome: Outcome, lang: Lang) -> None:
    codes = distinct_reasons(outcome)
    servers = sum(1 for d in outcome.documents.values() for _ in report.servers_of(d))
    console.print(Rule(align="left"))
    console.print(say("reasons", lang, count=len(codes), servers=servers, codes=", ".join(codes)))
    wrong = [c for c in checks(lab, outcome.documents) if not c.as_expected]
    for check in wrong:
        s = check.scenario
        line = say("unexpected", lang, server=s.server, what=s.what.in_(lang),
                   expected=s.expected.value, reason=check.reason)  # fmt: skip
        console.print(line, style="yellow")
    if not wrong:
        console.print(say("all expected", lang), style="green")
    console.print(say("elapsed", lang, seconds=outcome.elapsed), style="dim")


def hint(console: Console, gateways: tuple[GatewayInfo, ...], lang: Lang) -> None:
    demo = gateways[0]
    broken = PATH_RULES[0]
    tls = next(r for r in PATH_RULES if r.pool == "secure")
    lines = [
        (f"curl {demo.listener}/", say("try healthy", lang, pool=DEFAULT_POOL)),
        (f"curl {demo.listener}{broken.path.rstrip('*')}", say("try broken", lang, pool=broken.pool)),
        (f"probegate backend-health --url {demo.admin} --watch", say("try watch", lang)),
        (f"probegate diagnose -c {demo.config} --pool {tls.pool}", say("try diagnose", lang)),
    ]  # fmt: skip
    console.print()
    console.print(say("running", lang), style="bold")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(style="dim")
    for command, what in lines:
        grid.add_row(f"  {command}", what)
    console.print(grid)
    console.print(say("changes", lang), style="dim")


# ------------------------------------------------------------------------ JSON


def as_data(lab: Lab, outcome: Outcome) -> dict[str, Any]:
    return {
        "gateways": [
            {
                "name": g.name,
                "sku": g.sku,
                "listener": g.listener,
                "admin": g.admin,
                "configuration": str(g.config),
                "backendHealth": outcome.documents[g.name],
            }
            for g in outcome.gateways
        ],
        "dnsServer": {"address": lab.dns.label, "answers": lab.dns_answers},
        "scenarios": list(_scenario_rows(lab, outcome)),
        "reasons": distinct_reasons(outcome),
        "traffic": [{"path": a.path, "status": a.status, "body": a.body} for a in outcome.answers],
        "firstResultsSeconds": round(outcome.elapsed, 2),
        "skipped": lab.skipped,
    }


def _scenario_rows(lab: Lab, outcome: Outcome) -> Iterator[dict[str, Any]]:
    for check in checks(lab, outcome.documents):
        s = check.scenario
        yield {
            "gateway": s.gateway,
            "pool": s.pool,
            "server": s.server,
            "scenario": s.what.en,
            "expectedReason": s.expected.value,
            "health": check.health,
            "reason": check.reason,
            "asExpected": check.as_expected,
        }
