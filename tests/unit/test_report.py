"""The terminal tables: each state in its colour, labels under the address, Korean headings, a
count by state; and every command's --help ends with examples."""

from __future__ import annotations

import argparse
import io
from typing import Any

import pytest
from rich.console import Console

from probegate import report
from probegate.cli import build_parser
from probegate.i18n import Lang


def server(address: str, health: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {"address": address, "health": health, "reason": reason,
            "healthProbeLog": f"{address} says {reason}", "remedy": "do something",
            "consecutiveFailures": 0, "unhealthyThreshold": 3, "lastProbe": None, **extra}  # fmt: skip


DOCUMENT = {
    "backendAddressPools": [
        {
            "backendAddressPool": {"name": "web"},
            "backendHttpSettingsCollection": [
                {
                    "backendHttpSettings": {"name": "web-http"},
                    "servers": [
                        server("127.0.0.11:80", "Healthy", "success"),
                        server("127.0.0.12:80", "Unhealthy", "tcp-connect-error"),
                        server("127.0.0.13:80", "Unknown", "not-yet-probed"),
                    ],
                }
            ],
        }
    ]
}


def rendered(lang: Lang = Lang.EN, labels: dict[str, str] | None = None) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=200)
    report.render_health(console, DOCUMENT, lang=lang, labels=labels)
    return out.getvalue()


@pytest.mark.parametrize(
    ("state", "colour"),
    [
        pytest.param("Healthy", "32", id="green"),
        pytest.param("Unhealthy", "31", id="red"),
        pytest.param("Unknown", "33", id="yellow"),
    ],
)
def test_each_state_has_its_colour(state: str, colour: str) -> None:
    assert f"\x1b[1;{colour}m{state}" in rendered()


def test_labels_headings_and_count() -> None:
    text = rendered(Lang.KO, {"127.0.0.12:80": "nothing listens"})
    assert "nothing listens" in text
    assert "원인 코드" in text
    assert "풀 'web' · 설정 'web-http'" in text
    assert "서버 3개:" in text
    assert "1 Healthy" in text
    assert "1 Unhealthy" in text


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", sorted(subcommands()))
def test_every_command_help_ends_with_examples(command: str) -> None:
    text = subcommands()[command].format_help()
    assert "\nexamples:\n" in text
    assert f"  probegate {command}" in text
    assert "exit codes:" in text


@pytest.mark.parametrize(
    ("count", "threshold", "lang", "shown"),
    [
        pytest.param(2, 3, Lang.EN, "2/3", id="counting"),
        pytest.param(3, 3, Lang.EN, "3/3", id="at-threshold"),
        pytest.param(41, 2, Lang.EN, "41 (threshold 2)", id="past-threshold"),
        pytest.param(5, 0, Lang.KO, "5 (임계값 0)", id="past-threshold-ko"),
    ],
)
def test_failures_never_read_as_a_fraction_past_the_threshold(
    count: int, threshold: int, lang: Lang, shown: str
) -> None:
    data = server("127.0.0.12:80", "Unhealthy", "tcp-connect-error", consecutiveFailures=count, unhealthyThreshold=threshold)  # fmt: skip
    assert report.failures(data, lang) == shown


def test_reload_answer_lines_say_what_changed() -> None:
    answer = {"status": "reloaded", "targets": 3, "listeners": {"added": ["a"], "removed": []}, "kept": 2}  # fmt: skip
    assert list(report.reload_lines(answer)) == ["listeners.added: a", "listeners.removed: none", "kept: 2"]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param({"warmingUp": True}, "warming up: routed on its verdict", id="warming-up"),
        pytest.param(
            {"warmingUp": True, "removedByReload": True},
            "removed by the reload: serves until a new server",
            id="previous-server",
        ),
    ],
)
def test_a_server_routed_on_its_previous_verdict_says_so(
    extra: dict[str, Any], expected: str
) -> None:
    document = {
        "backendAddressPools": [
            {
                "backendAddressPool": {"name": "web"},
                "backendHttpSettingsCollection": [
                    {
                        "backendHttpSettings": {"name": "web-http"},
                        "servers": [server("127.0.0.11:80", "Healthy", "success", **extra)],
                    }
                ],
            }
        ]
    }
    out = io.StringIO()
    report.render_health(Console(file=out, width=300), document)
    assert expected in out.getvalue()
    plain = io.StringIO()
    report.render_health(Console(file=plain, width=300), DOCUMENT)
    assert "warming up" not in plain.getvalue()
