"""`probegate demo` in a subprocess: every scenario it stages shows its reason, traffic reaches the
healthy servers, 502s name the broken pools, Korean works, and Ctrl-C stops it cleanly."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from probegate.health.codes import Reason

ROOT = Path(__file__).resolve().parents[2]
MIN_REASONS = 15  # the goal of the demo: at least this many distinct reason codes

pytestmark = pytest.mark.e2e


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "probegate", "demo", *args],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        cwd=ROOT,
    )


def reasons_in(text: str) -> set[str]:
    """Reason codes printed as whole words (a code is never part of another code)."""
    return {r.value for r in Reason if re.search(rf"(?<![\w-]){re.escape(r.value)}(?![\w-])", text)}


def servers(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        server
        for pool in document["backendAddressPools"]
        for item in pool["backendHttpSettingsCollection"]
        for server in item["servers"]
    ]


def test_demo_once_shows_every_reason_it_stages_and_exits_0() -> None:
    result = demo("--once")
    assert result.returncode == 0, result.stderr
    shown = reasons_in(result.stdout)
    assert len(shown) >= MIN_REASONS, sorted(shown)
    assert "Every server shows the reason its scenario is built to produce." in result.stdout
    assert "all 6 servers of pool 'status-codes' are unhealthy" in result.stdout
    assert "5 days left" in result.stdout  # the expiring leaf: Healthy with a warning
    assert "Traceback" not in result.stderr


def test_demo_once_json_is_one_document_with_every_scenario_as_expected() -> None:
    result = demo("--once", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    found = {s["reason"] for g in data["gateways"] for s in servers(g["backendHealth"])}
    assert len(found) >= MIN_REASONS, sorted(found)
    assert sorted(found) == data["reasons"]
    wrong = [s for s in data["scenarios"] if not s["asExpected"]]
    assert wrong == []
    assert data["skipped"] == []
    # loopback only: every endpoint and every server address
    endpoints = [data["dnsServer"]["address"]]
    endpoints += [g[key] for g in data["gateways"] for key in ("listener", "admin")]
    assert all(re.match(r"^(http://)?127\.\d+\.\d+\.\d+:\d+$", e) for e in endpoints), endpoints
    addresses = [s["address"] for g in data["gateways"] for s in servers(g["backendHealth"])]
    assert all(a.startswith("127.") or ".probegate.test:" in a for a in addresses), addresses
    # traffic reaches the healthy servers; a broken pool answers 502 by name
    answers = {(t["path"], t["status"]) for t in data["traffic"]}
    assert ("/", 200) in answers
    assert ("/secure/", 200) in answers
    broken = next(t for t in data["traffic"] if t["path"] == "/status/")
    assert broken["status"] == 502
    assert "'status-codes'" in broken["body"]
    assert "http-status-code-mismatch" in broken["body"]


def test_demo_speaks_korean() -> None:
    result = demo("--once", "--lang", "ko")
    assert result.returncode == 0, result.stderr
    assert "모두 루프백에서 실행" in result.stdout
    assert "연결이 거부됨" in result.stdout  # the refused member's message, translated
    assert "5일 남음" in result.stdout
    assert len(reasons_in(result.stdout)) >= MIN_REASONS


def test_json_needs_once() -> None:
    result = demo("--json")
    assert result.returncode == 2
    assert "--once" in result.stderr


def test_ctrl_c_stops_the_running_demo_cleanly() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "probegate", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert process.stdout is not None
        seen: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("Running until Ctrl-C"):
                break
        assert any(line.startswith("Running until Ctrl-C") for line in seen), "".join(seen)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err
