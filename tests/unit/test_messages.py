"""The reason table: every code explained in both languages, facts filled in, never a crash."""

from __future__ import annotations

import re

import pytest

from probegate.health import messages
from probegate.health.codes import Reason, State
from probegate.health.result import WarningCode
from probegate.i18n import Lang

PLACEHOLDER = re.compile(r"{(\w+)}")


@pytest.mark.parametrize("reason", list(Reason), ids=str)
@pytest.mark.parametrize("lang", list(Lang), ids=str)
def test_every_reason_has_a_message_and_remedy(reason: Reason, lang: Lang) -> None:
    entry = messages.TABLE[reason]
    for template in (entry.message.in_(lang), entry.remedy.in_(lang)):
        assert template.strip()
        facts = {name: f"<{name}>" for name in PLACEHOLDER.findall(template)}
        rendered = template.format_map(facts)
        assert "{" not in rendered
        for value in facts.values():
            assert value in rendered


def test_korean_is_not_english() -> None:
    for reason in Reason:
        entry = messages.TABLE[reason]
        assert entry.message.ko != entry.message.en
        assert re.search("[가-힣]", entry.message.ko), reason


def test_missing_facts_render_as_question_marks() -> None:
    assert messages.message(Reason.TCP_CONNECT_ERROR, {}) == "TCP connection to ? failed: ?."


def test_states_of_codes() -> None:
    assert Reason.SUCCESS.state is State.HEALTHY
    assert Reason.PROBE_STALE.state is State.UNKNOWN
    assert Reason.NOT_YET_PROBED.state is State.UNKNOWN
    assert Reason.DRAINING.state is State.DRAINING
    assert Reason.INTERMEDIATE_MISSING.state is State.UNHEALTHY


@pytest.mark.parametrize(
    ("status", "words"),
    [
        pytest.param("401", "sends no credentials", id="401"),
        pytest.param("403", "forbids the probe", id="403"),
        pytest.param("404", "does not exist", id="404"),
        pytest.param("405", "always use GET", id="405"),
        pytest.param("500", "error log", id="500"),
        pytest.param("503", "unavailable", id="503"),
        pytest.param("418", "add 418 to the probe's match.statusCodes", id="other"),
    ],
)
def test_status_mismatch_remedy_fits_the_status(status: str, words: str) -> None:
    facts = {
        "received": status,
        "expected": "200-399",
        "path": "/health",
        "host": "app.example.test",
    }
    assert words in messages.remedy(Reason.HTTP_STATUS_CODE_MISMATCH, facts)


@pytest.mark.parametrize("code", list(WarningCode), ids=str)
def test_warnings_in_both_languages(code: WarningCode) -> None:
    assert messages.warning_text(code, {}, Lang.EN) != messages.warning_text(code, {}, Lang.KO)


@pytest.mark.parametrize(
    ("reason", "facts", "korean"),
    [
        pytest.param(
            Reason.TCP_CONNECT_ERROR,
            {"address": "127.0.0.11:80", "detail": "refused"},
            "127.0.0.11:80 로의 TCP 연결에 실패했습니다: 연결이 거부됨.",
            id="refused",
        ),
        pytest.param(
            Reason.TCP_CONNECT_ERROR,
            {"address": "a", "detail": "timed out after 1001 ms"},
            "a 로의 TCP 연결에 실패했습니다: 1001 ms 후 시간 초과.",
            id="timeout",
        ),
        pytest.param(
            Reason.TCP_CONNECT_ERROR,
            {"address": "a", "detail": "refused (tried 127.0.0.1:80, [::1]:80)"},
            "a 로의 TCP 연결에 실패했습니다: 연결이 거부됨 (시도한 주소: 127.0.0.1:80, [::1]:80).",
            id="tried",
        ),
        pytest.param(
            Reason.INVALID_HTTP_RESPONSE,
            {
                "address": "a",
                "detail": "closed by the backend before the response head (0 bytes after 3 ms)",
            },
            "a이(가) 올바른 HTTP/1.x 응답을 보내지 않았습니다: 응답 헤더 전에 백엔드가 연결을 닫음 (0 bytes after 3 ms).",
            id="closed",
        ),
        pytest.param(
            Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID,
            {
                "which": "CN=a",
                "validity": "expired",
                "not_before": "x",
                "not_after": "y",
                "now": "z",
            },
            "CN=a 의 인증서는 만료됨 상태입니다: 유효 기간 x ~ y, 확인 시각 z.",
            id="expired",
        ),
    ],
)
def test_korean_messages_translate_the_observed_details(
    reason: Reason, facts: dict[str, str], korean: str
) -> None:
    assert messages.message(reason, facts, Lang.KO) == korean
    assert messages.message(reason, facts, Lang.EN) != korean


@pytest.mark.parametrize(
    ("detail", "words", "not_words"),
    [
        pytest.param("refused", "Nothing listens on a", "firewall", id="refused"),
        pytest.param(
            "timed out after 1001 ms", "full accept queue", "Nothing listens", id="timeout"
        ),
        pytest.param("reset", "reset the connection", "Nothing listens", id="reset"),
        pytest.param("host unreachable", "cannot be reached", "Nothing listens", id="unreachable"),
        pytest.param(
            "refused (tried 127.0.0.1:80, [::1]:80)",
            "Nothing listens",
            "firewall",
            id="refused-several",
        ),
    ],
)
def test_connect_remedy_fits_how_the_connect_ended(detail: str, words: str, not_words: str) -> None:
    text = messages.remedy(Reason.TCP_CONNECT_ERROR, {"address": "a", "detail": detail})
    assert words in text
    assert not_words not in text
    assert "에서 리스닝하는" in messages.remedy(
        Reason.TCP_CONNECT_ERROR, {"address": "a", "detail": "refused"}, Lang.KO
    )
