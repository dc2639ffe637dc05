"""The fleet document in a terminal: one table, a row per server, a column per instance and the
joined verdict; rows where the instances disagree are marked, with each instance's reason code and
message; under the table, every instance that could not be reached and why.

Rules: reads only the document `join` shapes (what `--json` prints), so both say the same;
states keep their API spelling, every other word follows `lang`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from probegate.i18n import Lang, Words
from probegate.report import STATE_STYLE

_WORDS = {
    "title": Words("Backend health on {count} instances", "인스턴스 {count}개의 백엔드 상태"),
    "server": Words("pool · settings · server", "풀 · 설정 · 서버"),
    "verdict": Words("verdict", "판정"),
    "unreachable": Words("unreachable", "연결 불가"),
    "not-configured": Words("not configured", "구성에 없음"),
    "instance down": Words(
        "{name} ({url}) could not be asked: {code}: {message}",
        "{name} ({url}) 에 물을 수 없습니다: {code}: {message}",
    ),
    "no servers": Words(
        "No probe targets on any instance that answered.",
        "응답한 인스턴스 어디에도 프로브 대상이 없습니다.",
    ),
    "summary": Words(
        "{servers} servers on {reachable} of {instances} instances: {healthyEverywhere} Healthy everywhere · "
        "{disagreements} with a disagreement",
        "서버 {servers}개, 인스턴스 {instances}개 중 {reachable}개 응답: 모두 Healthy {healthyEverywhere}개 · "
        "불일치 {disagreements}개",
    ),
}
DISAGREE = "bold yellow"


def words(key: str, lang: Lang, **facts: object) -> str:
    return _WORDS[key].in_(lang).format(**facts)


def render(console: Console, fleet: Mapping[str, Any], lang: Lang = Lang.EN) -> None:
    for renderable in renderables(fleet, lang):
        console.print(renderable)


def renderables(fleet: Mapping[str, Any], lang: Lang = Lang.EN) -> list[RenderableType]:
    shown: list[RenderableType] = []
    instances = fleet["instances"]
    if fleet["servers"]:
        shown.append(table(fleet, lang))
    elif fleet["summary"]["reachable"]:
        shown.append(Text(words("no servers", lang)))
    for instance in instances:
        problem = instance["problem"]
        if problem is not None:
            line = words("instance down", lang, name=instance["name"], url=instance["url"],
                         code=problem["code"], message=problem["message"])  # fmt: skip
            shown.append(Text(f"✗ {line}", style="bold red"))
    summary: Mapping[str, object] = fleet["summary"]
    shown.append(Text(words("summary", lang, **summary)))
    return shown


def table(fleet: Mapping[str, Any], lang: Lang) -> Table:
    instances = fleet["instances"]
    out = Table(
        title=words("title", lang, count=len(instances)),
        title_justify="left",
        show_lines=True,
        expand=False,
    )
    out.add_column(words("server", lang), no_wrap=True)
    for instance in instances:
        header = Text(instance["name"])
        if not instance["reachable"]:
            header.append(f"\n{words('unreachable', lang)}", style="red")
        out.add_column(header, overflow="fold")
    out.add_column(words("verdict", lang), overflow="fold")
    for server in fleet["servers"]:
        where = Text(f"{server['backendAddressPool']} · {server['backendHttpSettings']}\n")
        where.append(server["address"], style="bold")
        cells = [_cell(c, disagree=not server["agree"], lang=lang) for c in server["instances"]]
        out.add_row(where, *cells, _verdict(server))
    return out


def _cell(cell: Mapping[str, Any], *, disagree: bool, lang: Lang) -> Text:
    if cell["missing"] is not None:
        return Text(words(cell["missing"], lang), style="dim")
    health = cell["health"]
    text = Text(health, style=STATE_STYLE.get(health, ""))
    if disagree or cell["reason"] != "success":
        # Where the instances disagree every instance's reason is shown, its success too.
        text.append(f"\n{cell['reason']}", style=STATE_STYLE.get(health, "").replace("bold ", ""))
        if cell.get("message"):
            text.append(f"\n{cell['message']}", style="dim")
    return text


def _verdict(server: Mapping[str, Any]) -> Text:
    if not server["agree"]:
        return Text(f"⚠ {server['verdict']}", style=DISAGREE)
    return Text(server["verdict"], style=STATE_STYLE.get(server["state"], ""))
