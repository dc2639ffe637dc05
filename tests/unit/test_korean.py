"""Korean particles follow the value before them, and the 401/403 remedies say each step once."""

from __future__ import annotations

import pytest

from probegate.health import messages
from probegate.health.codes import Reason
from probegate.health.korean import attach_particles, particle
from probegate.i18n import Lang


@pytest.mark.parametrize(
    ("word", "subject"),
    [
        pytest.param("503", "503이", id="3-sam"),
        pytest.param("502", "502가", id="2-i"),
        pytest.param("404", "404가", id="4-sa"),
        pytest.param("401", "401이", id="1-il"),
        pytest.param("500", "500이", id="0-baek"),
        pytest.param("200-399", "200-399가", id="9-gu"),
        pytest.param("서버", "서버가", id="hangul-vowel"),
        pytest.param("경로", "경로가", id="hangul-vowel-2"),
        pytest.param("인증서", "인증서가", id="hangul-vowel-3"),
        pytest.param("응답", "응답이", id="hangul-consonant"),
        pytest.param("/health", "/health이(가)", id="latin-unknown"),
    ],
)
def test_subject_particle(word: str, subject: str) -> None:
    assert word + particle(word, "이", "가") == subject


def test_markers_in_a_template() -> None:
    template = "{url}(이/가) {status}(을/를) 응답했습니다"
    assert attach_particles(template, {"url": "http://a/", "status": "503"}) == (
        "{url}이(가) {status}을 응답했습니다"
    )


def test_korean_message_puts_the_right_particle_after_a_status() -> None:
    facts = {"path": "/", "host": "h", "received": "503", "expected": "200-399"}
    remedy = messages.remedy(Reason.HTTP_STATUS_CODE_MISMATCH, facts, Lang.KO)
    assert "503이 정상을" in remedy
    assert "503 가" not in remedy
    assert "200-399를" not in remedy  # "범위의" follows it, no particle
    ok = messages.message(Reason.SUCCESS, {"url": "http://a:8", "status": "200", "duration_ms": "3"}, Lang.KO)  # fmt: skip
    assert "200을 응답했습니다" in ok
    assert "http://a:8이 3 ms" in ok


@pytest.mark.parametrize("status", ["401", "403"])
@pytest.mark.parametrize("lang", [Lang.EN, Lang.KO])
def test_401_and_403_remedies_do_not_repeat_themselves(status: str, lang: Lang) -> None:
    facts = {"path": "/login", "host": "h", "received": status, "expected": "200-399"}
    remedy = messages.remedy(Reason.HTTP_STATUS_CODE_MISMATCH, facts, lang)
    assert remedy.count("match.statusCodes") == 1, remedy
