"""`probegate run` keeps its health events in SQLite across a restart, reports availability per
server, and drains a member through the admin API (and puts it back)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probegate.demo.backends import unused_port
from tests.e2e.okserver import ok_server
from tests.e2e.test_run import Gateway, config

pytestmark = pytest.mark.e2e


@pytest.fixture
def ok_port() -> Iterator[int]:
    with ok_server() as server:
        yield server.server_address[1]


def by_address(servers: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["address"]: s for s in servers}


def decided(servers: list[dict[str, Any]]) -> bool:
    return all(s["health"] in ("Healthy", "Unhealthy") for s in servers)


def test_events_survive_a_restart_and_a_member_drains_and_returns(
    tmp_path: Path, ok_port: int
) -> None:
    path = tmp_path / "gateway.yaml"
    dead = unused_port()
    path.write_text(config(ok_port, dead), encoding="utf-8")
    ok, down = f"127.0.0.1:{ok_port}", f"127.0.0.1:{dead}"
    gateway = Gateway(path)
    try:
        servers = by_address(gateway.wait_for(decided))
        assert servers[ok]["health"] == "Healthy"
        assert servers[down]["health"] == "Unhealthy"
        status, listed = gateway.get("/backendhealth/events?since=1h&pool=web")
        assert status == 200
        assert {(e["server"], e["to"], e["toReason"]) for e in listed["events"]} == {
            (ok, "Healthy", "success"),
            (down, "Unhealthy", "tcp-connect-error"),
        }
        assert listed["history"]["problem"] is None
        assert servers[ok]["availability"]["lastHour"] in (None, 1.0)
        assert servers[down]["flapping"] is False

        status, drained = gateway.post(
            "/backendhealth/drain", {"backendAddressPool": "web", "address": ok}
        )
        assert (status, drained["servers"], drained["draining"]) == (200, [ok], True)
        assert by_address(gateway.servers())[ok]["health"] == "Draining"
        status, _ = gateway.post(
            "/backendhealth/undrain", {"backendAddressPool": "web", "address": ok}
        )
        assert status == 200
        assert by_address(gateway.servers())[ok]["health"] == "Healthy"
        status, missing = gateway.post(
            "/backendhealth/drain", {"backendAddressPool": "web", "address": "127.0.0.9"}
        )
        assert status == 404
        assert "no member" in missing["error"]["message"]
        cli = subprocess.run(
            [sys.executable, "-m", "probegate", "backend-health", "--url", gateway.url,
             "--events", "--since", "1h", "--pool", "web"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert cli.returncode == 0, cli.stderr
        assert "State changes since" in cli.stdout
        assert "Unknown → Unhealthy" in cli.stdout
        assert "tcp-connect-error" in cli.stdout
        status, bad = gateway.get("/backendhealth/events?since=yesterday")
        assert status == 400
        assert "since takes a duration" in bad["error"]["message"]
    finally:
        assert gateway.stop() == 0
    assert (tmp_path / "gateway.yaml.history.sqlite").exists()

    again = Gateway(path)
    try:
        status, listed = again.get("/backendhealth/events?since=24h")
        assert status == 200
        before = [e for e in listed["events"] if e["server"] in (ok, down)]
        assert len(before) >= 2  # the first run's changes, read back from the database
        again.wait_for(decided)
        status, listed = again.get("/backendhealth/events?since=24h")
        assert len(listed["events"]) >= 4  # and this run's
    finally:
        assert again.stop() == 0
