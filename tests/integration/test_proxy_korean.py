"""The gateway's own 502 follows Accept-Language, as the admin API does: Korean for `ko…`,
English otherwise; reason codes and pool names stay as they are, and the access log's
error_info stays English."""

from __future__ import annotations

from pathlib import Path

import pytest

from probegate.demo.backends import wait_until
from probegate.demo.faults import closed_port
from probegate.i18n import Lang
from probegate.proxy.words import language
from tests.integration.proxykit import RunningGateway, config, free_port, get


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        pytest.param(b"ko-KR,ko;q=0.9,en;q=0.8", Lang.KO, id="korean-first"),
        pytest.param(b"en-US,ko;q=0.5", Lang.EN, id="english-first"),
        pytest.param(None, Lang.EN, id="none"),
    ],
)
def test_language_of_the_request(header: bytes | None, lang: Lang) -> None:
    lines: tuple[bytes, ...] = (b"Accept", b": ", b"*/*", b"\r\n")
    if header is not None:
        lines += (b"Accept-Language", b": ", header, b"\r\n")
    assert language(lines) is lang


def test_a_502_in_korean_when_the_client_asks_for_it(tmp_path: Path) -> None:
    port = free_port()
    document = config(port, {"web": []})
    document["backendAddressPools"][0]["backendAddresses"] = [
        {"ipAddress": "127.0.0.1", "port": closed_port()}
    ]
    document["probes"][0]["unhealthyThreshold"] = 0
    with RunningGateway(tmp_path, document) as gw:
        assert gw.gateway is not None
        wait_until(
            lambda: all(v.record.last_result for v in gw.gateway.snapshot().targets),  # type: ignore[union-attr]
            10,
            "the first probe",
        )
        korean = get(port, headers="Accept-Language: ko-KR,ko;q=0.9\r\n")
        english = get(port)
    assert korean.status == english.status == 502
    assert english.body.decode() == "the server of pool 'web' is unhealthy: tcp-connect-error\n"
    assert korean.body.decode() == "풀 'web'의 서버가 비정상입니다: tcp-connect-error\n"


def test_undecided_servers_in_korean() -> None:
    from probegate.health.codes import State  # noqa: PLC0415
    from probegate.proxy import words  # noqa: PLC0415

    part = words.unrouted_part(1, State.UNKNOWN, "tcp-connect-error", (1, 3), Lang.KO)
    assert part == "알 수 없음 1개 (tcp-connect-error, 실패 3회 중 1회)"
    assert words.not_routable(3, "app", part, Lang.KO) == (
        "풀 'app'의 서버 3개가 모두 라우팅할 수 없는 상태입니다: " + part
    )
    assert words.unrouted_part(2, State.UNHEALTHY, "x", (0, 0), Lang.EN) == "2 unhealthy (x)"
