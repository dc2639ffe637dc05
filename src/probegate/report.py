"""Terminal rendering of backend health (`probegate backend-health`, `probegate probe`, the demo).

Rules: reads the JSON documents `admin/views.py` shapes — the same whether they came from a running
gateway's API or from a one-shot probe of a file — so the CLI and the API never disagree. States
keep their API spelling in every language (an operator searches for them); everything around them
follows `lang`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from probegate.i18n import Lang, Words

STATE_STYLE = {
    "Healthy": "bold green",
    "Unhealthy": "bold red",
    "Unknown": "bold yellow",
    "Draining": "bold cyan",
}

_WORDS = {
    "events": Words("State changes since {since}: {count}", "{since} 이후 상태 변화: {count}건"),
    "server": Words("server", "서버"),
    "health": Words("health", "상태"),
    "reason": Words("reason", "원인 코드"),
    "details": Words("details", "세부 정보"),
    "failures": Words("failures", "연속 실패"),
    "last probe": Words("last probe", "마지막 프로브"),
    "pool": Words("pool '{pool}' · settings '{settings}'", "풀 '{pool}' · 설정 '{settings}'"),
    "on-demand": Words(
        "on-demand probe · pool '{pool}' · settings '{settings}'",
        "주문형 프로브 · 풀 '{pool}' · 설정 '{settings}'",
    ),
    "no targets": Words(
        "No probe targets: no routing rule binds a backend pool to settings.",
        "프로브 대상이 없습니다: 백엔드 풀과 설정을 묶는 라우팅 규칙이 없습니다.",
    ),
    "servers": Words("{count} servers:", "서버 {count}개:"),
    "minServers": Words("(routed anyway: minServers)", "(minServers 로 라우팅 유지)"),
    "ramping up": Words(
        "(ramping up {share} %: slow start after its return)",
        "(점진 증가 {share}%: 복귀 후 slow start)",
    ),
    "warming up": Words(
        "(warming up: routed on its verdict from before the reload until its new probe answers)",
        "(준비 중: 새 프로브가 응답할 때까지 재적용 전 판정으로 라우팅)",
    ),
    "removed serving": Words(
        "(removed by the reload: serves until a new server of this pool passes)",
        "(재적용으로 제거됨: 이 풀의 새 서버가 통과할 때까지 트래픽 처리)",
    ),
    "past threshold": Words("{count} (threshold {threshold})", "{count} (임계값 {threshold})"),
}


def words(key: str, lang: Lang, **facts: object) -> str:
    return _WORDS[key].in_(lang).format(**facts)


def render_health(
    console: Console,
    document: dict[str, Any],
    *,
    remedies: bool = True,
    lang: Lang = Lang.EN,
    labels: Mapping[str, str] | None = None,
) -> None:
    """Every (pool, settings) table, then a one-line count by state."""
    for renderable in health_renderables(document, remedies=remedies, lang=lang, labels=labels):
        console.print(renderable)


def health_group(document: dict[str, Any], *, remedies: bool = True, lang: Lang = Lang.EN) -> Group:
    """The same as one renderable, for a `rich.live.Live` display (`backend-health --watch`)."""
    return Group(*health_renderables(document, remedies=remedies, lang=lang))


def health_renderables(
    document: dict[str, Any],
    *,
    remedies: bool = True,
    lang: Lang = Lang.EN,
    labels: Mapping[str, str] | None = None,
) -> list[RenderableType]:
    shown: list[RenderableType] = []
    for pool in document["backendAddressPools"]:
        pool_name = pool["backendAddressPool"]["name"]
        for item in pool["backendHttpSettingsCollection"]:
            settings = item["backendHttpSettings"]["name"]
            title = words("pool", lang, pool=pool_name, settings=settings)
            shown.append(_table(title, item["servers"], remedies, lang, labels or {}))
    if not document["backendAddressPools"]:
        shown.append(Text(words("no targets", lang)))
    else:
        shown.append(summary(servers_of(document), lang))
    return shown


def render_ondemand(
    console: Console, document: dict[str, Any], *, remedies: bool = True, lang: Lang = Lang.EN
) -> None:
    pool = document["backendAddressPool"]["name"]
    item = document["backendHealthHttpSettings"]
    settings = item["backendHttpSettings"]["name"]
    title = words("on-demand", lang, pool=pool, settings=settings)
    console.print(_table(title, item["servers"], remedies, lang, {}))


def servers_of(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for pool in document["backendAddressPools"]:
        for item in pool["backendHttpSettingsCollection"]:
            yield from item["servers"]


def summary(servers: Iterator[dict[str, Any]], lang: Lang = Lang.EN) -> Text:
    """'29 servers: 8 Healthy · 21 Unhealthy', each state in its colour."""
    counts = Counter(server["health"] for server in servers)
    text = Text(words("servers", lang, count=sum(counts.values())))
    for i, state in enumerate(s for s in STATE_STYLE if counts[s]):
        text.append(" · " if i else " ")
        text.append(f"{counts[state]} {state}", style=STATE_STYLE[state])
    return text


def _table(
    title: str,
    servers: list[dict[str, Any]],
    remedies: bool,
    lang: Lang,
    labels: Mapping[str, str],
) -> Table:
    # An on-demand probe is one probe per server: it has no run of failures to show.
    counted = any("consecutiveFailures" in server for server in servers)
    table = Table(title=title, title_justify="left", show_lines=True, expand=False)
    table.add_column(words("server", lang), no_wrap=True)
    table.add_column(words("health", lang), no_wrap=True)
    table.add_column(words("reason", lang), no_wrap=True)
    table.add_column(words("details", lang), overflow="fold")
    if counted:
        table.add_column(words("failures", lang), justify="right", no_wrap=True)
    table.add_column(words("last probe", lang), no_wrap=True)
    for server in servers:
        health = server["health"]
        style = STATE_STYLE.get(health, "")
        cells: list[RenderableType] = [
            _server(server["address"], labels.get(server["address"])),
            Text(health, style=style),
            Text(server["reason"], style=style.replace("bold ", "")),
            _details(server, remedies, lang),
        ]
        if counted:
            cells.append(failures(server, lang))
        cells.append(_last_probe(server.get("lastProbe")))
        table.add_row(*cells)
    return table


def _server(address: str, label: str | None) -> Text:
    text = Text(address)
    if label:
        text.append(f"\n{label}", style="dim")
    return text


def _details(server: dict[str, Any], remedies: bool, lang: Lang) -> Text:
    text = Text(server["healthProbeLog"])
    for warning in server.get("warnings", []):
        text.append(f"\n⚠ {warning['message']}", style="yellow")
    if remedies and server["reason"] != "success" and server.get("remedy"):
        text.append(f"\n→ {server['remedy']}", style="dim")
    if server.get("routableByMinServers"):
        text.append(f"\n{words('minServers', lang)}", style="cyan")
    if server.get("rampingUp") is not None:
        share = round(server["rampingUp"] * 100)
        text.append(f"\n{words('ramping up', lang, share=share)}", style="cyan")
    if server.get("warmingUp"):
        key = "removed serving" if server.get("removedByReload") else "warming up"
        text.append(f"\n{words(key, lang)}", style="cyan")
    return text


def failures(server: dict[str, Any], lang: Lang = Lang.EN) -> str:
    """`2/3` while the run of failures counts towards the threshold; past it, `41 (threshold 2)`
    (`41/2` read as a fraction gone wrong)."""
    count = server.get("consecutiveFailures")
    if count is None:
        return ""
    if server.get("reason") == "recovering":  # passing again, short of healthyThreshold
        return f"{server.get('consecutiveSuccesses', 0)}/{server.get('healthyThreshold', 1)} passes"
    threshold = server["unhealthyThreshold"]
    if count <= threshold:
        return f"{count}/{threshold}"
    return words("past threshold", lang, count=count, threshold=threshold)


def reload_lines(answer: dict[str, Any]) -> Iterator[str]:
    """What a reload answer says beyond its status and target count, one line per fact: lists
    joined, counts as they are, nested sections flattened as `section.key`."""
    yield from _lines(answer, "", skip={"status", "targets"})


def _lines(data: dict[str, Any], prefix: str, skip: set[str] | None = None) -> Iterator[str]:
    for key, value in data.items():
        if skip and key in skip:
            continue
        if isinstance(value, dict):
            yield from _lines(value, f"{prefix}{key}.")
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value) if value else "none"
            yield f"{prefix}{key}: {shown}"
        else:
            yield f"{prefix}{key}: {value}"


def _last_probe(last: dict[str, Any] | None) -> str:
    if not last:
        return "—"
    status = f" {last['status']}" if last.get("status") else ""
    return f"{last['time'][11:19]}Z{status} {last['durationMs']:.0f} ms"


def render_events(console: Console, listed: dict[str, Any], lang: Lang = Lang.EN) -> None:
    """`backend-health --events`: one line per state change, oldest first, coloured by state."""
    events = listed.get("events", [])
    table = Table(title=words("events", lang, since=listed.get("since", ""), count=len(events)))
    for column in ("time", "pool", "settings", "server", "change", "reason"):
        table.add_column(column, no_wrap=True)
    for event in events:
        change = Text(event["from"], style=STATE_STYLE.get(event["from"], ""))
        change.append(" → ")
        change.append(event["to"], style=STATE_STYLE.get(event["to"], ""))
        table.add_row(
            event["time"].replace("T", " ").removesuffix("Z") + "Z",
            event["backendAddressPool"],
            event["backendHttpSettings"],
            event["server"],
            change,
            event["toReason"],
        )
    console.print(table)
    problem = listed.get("history", {}).get("problem")
    if problem:
        console.print(Text(problem, style="yellow"))
