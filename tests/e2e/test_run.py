"""`probegate run` in a subprocess: the admin API answers with real probe results, reloads keep the
old configuration on errors, and SIGTERM stops it cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probegate.buildinfo import data_path
from probegate.demo.backends import unused_port
from tests.e2e.okserver import ok_server

pytestmark = pytest.mark.e2e


@pytest.fixture
def backend() -> Iterator[int]:
    with ok_server() as server:
        yield server.server_address[1]


def free_port() -> int:
    return unused_port()


def config(ok_port: int, dead_port: int, token: str | None = None) -> str:
    admin = f"admin: {{port: 0, token: {token}}}" if token else "admin: {port: 0}"
    return textwrap.dedent(f"""\
        httpListeners: [{{name: front, port: {free_port()}, protocol: Http}}]
        backendAddressPools:
          - name: web
            backendAddresses:
              - {{ipAddress: 127.0.0.1, port: {ok_port}}}
              - {{ipAddress: 127.0.0.1, port: {dead_port}}}
        backendHttpSettingsCollection:
          - {{name: web-http, port: 80, protocol: Http, probe: health}}
        probes:
          - {{name: health, protocol: Http, host: web.example.test, path: /health, interval: 1,
              timeout: 1, unhealthyThreshold: 1}}
        requestRoutingRules:
          - {{name: all, ruleType: Basic, httpListener: front, backendAddressPool: web,
              backendHttpSettings: web-http}}
        {admin}
        """)


class Gateway:
    def __init__(self, path: Path, *options: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "probegate", "run", "-c", str(path), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if "admin API at " not in line:  # it did not start: collect it (and close its pipes)
            out, err = self.process.communicate(timeout=15)
            pytest.fail(f"probegate run did not start:\n{line}{out}{err}")
        self.url = line.rsplit("admin API at ", 1)[1].strip()

    def get(self, path: str, token: str | None = None) -> tuple[int, Any]:
        return self.call(urllib.request.Request(self.url + path), token)

    def post(self, path: str, body: object, token: str | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},  # the admin API refuses anything else
        )
        return self.call(request, token)

    @staticmethod
    def call(request: urllib.request.Request, token: str | None) -> tuple[int, Any]:
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)

    def servers(self, token: str | None = None) -> list[dict[str, Any]]:
        _, document = self.get("/backendhealth", token)
        return [
            server
            for pool in document["backendAddressPools"]
            for item in pool["backendHttpSettingsCollection"]
            for server in item["servers"]
        ]

    def wait_for(
        self, predicate: Any, token: str | None = None, seconds: float = 15.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while True:
            servers = self.servers(token)
            if predicate(servers) or time.monotonic() > deadline:
                return servers
            time.sleep(0.1)

    def stop(self) -> int:
        """SIGTERM, then collect the output (which also closes the pipes)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        _, self.stderr = self.process.communicate(timeout=15)
        return self.process.returncode


@pytest.fixture
def gateway_file(tmp_path: Path, backend: int) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(config(backend, free_port()), encoding="utf-8")
    return path


def settled(servers: list[dict[str, Any]]) -> bool:
    return all(s["health"] != "Unknown" for s in servers)


def test_backend_health_reports_real_probes_and_reasons(gateway_file: Path, backend: int) -> None:
    gateway = Gateway(gateway_file)
    try:
        servers = gateway.wait_for(settled)
        by_health = {s["health"]: s for s in servers}
        healthy, down = by_health["Healthy"], by_health["Unhealthy"]
        assert healthy["address"] == f"127.0.0.1:{backend}"
        assert healthy["reason"] == "success"
        assert healthy["routable"] is True
        assert healthy["lastProbe"]["status"] == 200
        assert down["reason"] == "tcp-connect-error"
        assert "refused" in down["healthProbeLog"]
        assert down["routable"] is False
        assert down["consecutiveFailures"] >= 1
        status, korean = gateway.get("/backendhealth?lang=ko&expand=history")
        assert status == 200
        first = korean["backendAddressPools"][0]["backendHttpSettingsCollection"][0]["servers"]
        assert any("TCP 연결에 실패" in s["healthProbeLog"] for s in first)
        assert all(s["history"] for s in first)
        status, health = gateway.get("/healthz")
        assert status == 200
        assert health["dataPath"] == data_path().as_json()  # the child loads what the tests load
        assert gateway.get("/openapi.json")[1]["openapi"].startswith("3.")
        assert gateway.get("/nope")[1]["error"]["code"] == "NotFound"
    finally:
        assert gateway.stop() == 0


def test_ondemand_probe_with_overrides_changes_no_state(gateway_file: Path, backend: int) -> None:
    gateway = Gateway(gateway_file)
    try:
        gateway.wait_for(settled)
        status, answer = gateway.post(
            "/backendhealth/ondemand",
            {"backendAddressPool": "web", "backendHttpSettings": "web-http", "path": "/missing"},
        )
        assert status == 200
        servers = answer["backendHealthHttpSettings"]["servers"]
        live = next(s for s in servers if s["address"] == f"127.0.0.1:{backend}")
        assert live["reason"] == "http-status-code-mismatch"
        assert "returned 404" in live["healthProbeLog"]
        after = next(s for s in gateway.servers() if s["address"] == f"127.0.0.1:{backend}")
        assert after["health"] == "Healthy"
        bad = gateway.post(
            "/backendhealth/ondemand",
            {"backendAddressPool": "nope", "backendHttpSettings": "web-http"},
        )
        assert bad == (
            404,
            {
                "error": {
                    "code": "NotFound",
                    "message": "no backend address pool is named 'nope'",
                }
            },
        )
    finally:
        gateway.stop()


def test_reload_refuses_an_invalid_file_and_keeps_serving(gateway_file: Path) -> None:
    gateway = Gateway(gateway_file)
    try:
        gateway.wait_for(settled)
        good = gateway_file.read_text(encoding="utf-8")
        gateway_file.write_text(
            good.replace("unhealthyThreshold: 1", "unhealthyThreshold: 25"), encoding="utf-8"
        )
        status, answer = gateway.post("/reload", {})
        assert status == 422
        assert (
            "probes[0].unhealthyThreshold: must be between 0 and 20, got 25"
            in answer["error"]["message"]
        )
        assert len(gateway.servers()) == 2
        gateway_file.write_text(good.replace("interval: 1", "interval: 2"), encoding="utf-8")
        status, reloaded = gateway.post("/reload", {})
        assert (status, reloaded["status"], reloaded["targets"]) == (200, "reloaded", 2)
        assert len(reloaded["changes"]["warmingUp"]) == 2  # a new interval: both warm up
    finally:
        gateway.stop()


def test_token_protects_everything_but_healthz(tmp_path: Path, backend: int) -> None:
    path = tmp_path / "gateway.yaml"
    path.write_text(config(backend, free_port(), token="s3cret"), encoding="utf-8")
    gateway = Gateway(path)
    try:
        assert gateway.get("/healthz")[0] == 200
        status, answer = gateway.get("/backendhealth")
        assert status == 401
        assert answer["error"]["code"] == "Unauthorized"
        assert gateway.get("/backendhealth", token="s3cret")[0] == 200
        request = urllib.request.Request(gateway.url + "/backendhealth")
        request.add_header("Authorization", "bearer s3cret")  # the scheme is case-insensitive
        assert gateway.call(request, None)[0] == 200
        with pytest.raises(urllib.error.HTTPError) as unauthorized:
            urllib.request.urlopen(gateway.url + "/backendhealth", timeout=10)
        assert unauthorized.value.headers["WWW-Authenticate"].startswith("Bearer")
        unauthorized.value.close()
        path.write_text(
            path.read_text(encoding="utf-8").replace("s3cret", "other"), encoding="utf-8"
        )
        status, answer = gateway.post("/reload", {}, token="s3cret")
        assert status == 422
        assert "change only with a restart" in answer["error"]["message"]
    finally:
        gateway.stop()


def test_api_errors_are_json_with_their_headers(gateway_file: Path) -> None:
    gateway = Gateway(gateway_file)
    try:
        with pytest.raises(urllib.error.HTTPError) as wrong_method:
            urllib.request.urlopen(gateway.url + "/reload", timeout=10)  # GET on a POST route
        assert wrong_method.value.code == 405
        assert "POST" in wrong_method.value.headers["Allow"]
        assert json.load(wrong_method.value)["error"]["code"] == "MethodNotAllowed"
        deep = gateway.call(
            urllib.request.Request(
                gateway.url + "/backendhealth/ondemand",
                data=b"[" * 20_000 + b"]" * 20_000,
                method="POST",
                headers={"Content-Type": "application/json"},
            ),
            None,
        )
        assert deep[0] == 400
        status, answer = gateway.post(
            "/backendhealth/ondemand",
            {
                "backendAddressPool": "web",
                "backendHttpSettings": "web-http",
                "match": {"status": ["200"]},
            },
        )
        assert (status, answer["error"]["message"]) == (400, "unknown key 'match.status'")
    finally:
        gateway.stop()


def test_backend_health_cli_reads_the_api(gateway_file: Path) -> None:
    gateway = Gateway(gateway_file)
    try:
        gateway.wait_for(settled)
        result = subprocess.run(
            [sys.executable, "-m", "probegate", "backend-health", "--url", gateway.url, "--output", "powershell"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 1  # one server is down
        document = json.loads(result.stdout)
        servers = document["BackendAddressPools"][0]["BackendHttpSettingsCollection"][0]["Servers"]
        assert {s["Health"] for s in servers} == {"Healthy", "Unhealthy"}
    finally:
        gateway.stop()
