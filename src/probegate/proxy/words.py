"""The words of the gateway's own 502 body, in the language the client asks for.

Rules: `Accept-Language` decides, as it does for the admin API (its first language; `ko…` →
Korean, anything else English); reason codes and pool names stay as they are in every language
(an operator searches for them). Pure: facts in, text out. Read only on the 502 path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from probegate.health.codes import State
from probegate.i18n import Lang

_STATES_KO: Final = {
    "unknown": "알 수 없음",
    "unhealthy": "비정상",
    "draining": "드레이닝",
    "healthy": "정상",
}


def language(lines: Sequence[bytes]) -> Lang:
    """The language of the request's `Accept-Language` among its header lines (name, ": ",
    value, CRLF, as the exchange keeps them)."""
    for index in range(0, len(lines) - 2, 4):
        if lines[index].lower() == b"accept-language":
            first = lines[index + 2].split(b",", 1)[0].strip().lower()
            return Lang.KO if first.startswith(b"ko") else Lang.EN
    return Lang.EN


def no_servers(pool: str, lang: Lang) -> str:
    if lang is Lang.KO:
        return f"풀 '{pool}'에 서버가 없습니다"
    return f"pool '{pool}' has no servers"


def none_could_take(pool: str, failures: str, lang: Lang) -> str:
    if lang is Lang.KO:
        return f"풀 '{pool}'의 어느 서버도 요청을 받지 못했습니다: {failures}"
    return f"no server of pool '{pool}' could take the request: {failures}"


def _servers(total: int, lang: Lang) -> str:
    if lang is Lang.KO:
        return "서버가" if total == 1 else f"서버 {total}개가 모두"
    return "the server" if total == 1 else f"all {total} servers"


def not_routable(total: int, pool: str, unrouted: str, lang: Lang) -> str:
    if lang is Lang.KO:
        return f"풀 '{pool}'의 {_servers(total, lang)} 라우팅할 수 없는 상태입니다: {unrouted}"
    verb = "is" if total == 1 else "are"
    return f"{_servers(total, lang)} of pool '{pool}' {verb} not routable: {unrouted}"


def unhealthy(total: int, pool: str, reasons: str, lang: Lang) -> str:
    if lang is Lang.KO:
        return f"풀 '{pool}'의 {_servers(total, lang)} 비정상입니다: {reasons or '알 수 없음'}"
    verb = "is" if total == 1 else "are"
    return f"{_servers(total, lang)} of pool '{pool}' {verb} unhealthy: {reasons or 'unknown'}"


def unrouted_part(
    count: int, state: State, reason: str, failures: tuple[int, int], lang: Lang
) -> str:
    """One group of `unrouted_words`: `1 unknown (tcp-connect-error, 1 of 3 failures)`."""
    name = state.value.lower()
    failed, threshold = failures
    if lang is Lang.KO:
        detail = reason + (f", 실패 {max(threshold, 1)}회 중 {failed}회" if failed else "")
        return f"{_STATES_KO.get(name, name)} {count}개 ({detail})"
    detail = reason + (f", {failed} of {max(threshold, 1)} failures" if failed else "")
    return f"{count} {name} ({detail})"
