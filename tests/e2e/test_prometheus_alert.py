"""A real Prometheus on loopback scrapes `probegate run` and evaluates the shipped alerting rules:
stopping the only backend of a pool makes `ProbegatePoolNotRoutable` fire.

The rules are the shipped file with every `for:` set to 0 s, so the test need not wait out the
production hold times (those are covered by `promtool test rules`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from probegate.demo.backends import unused_port
from tests.e2e.okserver import ok_server

pytestmark = pytest.mark.e2e

RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "probegate-rules.yml"


def fetch(url: str) -> Any:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=5) as answer:
        return json.load(answer)


def poll(what: str, predicate: Any, seconds: float = 40.0) -> Any:
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except OSError:
            last = None
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def backend() -> Iterator[ThreadingHTTPServer]:
    with ok_server("127.0.0.61") as server:
        yield server


def gateway_file(folder: Path, backend_port: int) -> Path:
    document = {
        "httpListeners": [{"name": "front", "port": unused_port(), "protocol": "Http"}],
        "backendAddressPools": [
            {"name": "app", "backendAddresses": [{"ipAddress": "127.0.0.61", "port": backend_port}]}
        ],
        "backendHttpSettingsCollection": [
            {"name": "web", "port": 80, "protocol": "Http", "probe": "health"}
        ],
        "probes": [
            {
                "name": "health",
                "protocol": "Http",
                "host": "app.test",
                "path": "/",
                "interval": 1,
                "timeout": 1,
                "unhealthyThreshold": 1,
            }
        ],
        "requestRoutingRules": [
            {
                "name": "all",
                "ruleType": "Basic",
                "httpListener": "front",
                "backendAddressPool": "app",
                "backendHttpSettings": "web",
            }
        ],
        "admin": {"port": 0},
    }
    path = folder / "gateway.json"
    path.write_text(json.dumps(document))
    return path


def prometheus_files(folder: Path, admin: str) -> Path:
    rules = folder / "rules.yml"
    rules.write_text(re.sub(r"for: \S+", "for: 0s", RULES.read_text()))
    config = folder / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{rules}]\n"
        "scrape_configs:\n"
        f"  - {{job_name: probegate, static_configs: [{{targets: ['{admin}']}}]}}\n"
    )
    return config


def firing(prometheus: str) -> list[dict[str, Any]]:
    alerts = fetch(f"{prometheus}/api/v1/alerts")["data"]["alerts"]
    return [a for a in alerts if a["state"] == "firing"]


def test_stopping_the_only_backend_fires_the_pool_alert(
    tmp_path: Path, backend: ThreadingHTTPServer
) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is missing: install Debian's prometheus package")
    gateway = subprocess.Popen(
        [sys.executable, "-m", "probegate", "run", "-c", str(gateway_file(tmp_path, backend.server_address[1]))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    prometheus_process: subprocess.Popen[str] | None = None
    try:
        assert gateway.stdout is not None
        line = gateway.stdout.readline()
        assert "admin API at " in line, line
        admin = line.rsplit("admin API at http://", 1)[1].strip()
        web = f"127.0.0.1:{unused_port()}"
        prometheus_process = subprocess.Popen(
            [binary, f"--config.file={prometheus_files(tmp_path, admin)}",
             f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address={web}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        prometheus = f"http://{web}"

        def scraped() -> bool:
            targets = fetch(f"{prometheus}/api/v1/targets")["data"]["activeTargets"]
            return any(t["health"] == "up" for t in targets)

        poll("Prometheus to scrape the gateway", scraped)
        routable = f"{prometheus}/api/v1/query?query=probegate_backend_server_routable"
        poll(
            "the server to be routable",
            lambda: fetch(routable)["data"]["result"][0]["value"][1] == "1",
        )
        assert not [
            a for a in firing(prometheus) if a["labels"]["alertname"] == "ProbegatePoolNotRoutable"
        ]

        backend.shutdown()
        backend.server_close()

        def pool_alert() -> list[dict[str, Any]]:
            return [
                a
                for a in firing(prometheus)
                if a["labels"]["alertname"] == "ProbegatePoolNotRoutable"
            ]

        (alert,) = poll("ProbegatePoolNotRoutable to fire", pool_alert)
        assert alert["labels"]["pool"] == "app"
        assert alert["labels"]["settings"] == "web"
        assert alert["labels"]["severity"] == "critical"
        unhealthy = poll(
            "ProbegateServerUnhealthy to fire",
            lambda: [
                a
                for a in firing(prometheus)
                if a["labels"]["alertname"] == "ProbegateServerUnhealthy"
            ],
        )
        # refused, or cut while the server shut down: either way a reason, not success
        assert unhealthy[0]["labels"]["reason"] in {"tcp-connect-error", "invalid-http-response"}
    finally:
        if prometheus_process is not None:
            prometheus_process.terminate()
            prometheus_process.communicate(timeout=20)
        gateway.send_signal(signal.SIGTERM)
        gateway.communicate(timeout=20)
