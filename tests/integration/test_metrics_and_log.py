"""/metrics (SPEC section 10) parsed with prometheus_client's own parser, and the access log."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from probegate.demo.backends import wait_until
from probegate.demo.faults import closed_port
from probegate.metrics import render
from tests.integration.proxykit import RecordingBackend, RunningGateway, config, free_port, get


def test_metrics_and_access_log_after_some_traffic(tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    with RecordingBackend("a") as a:
        port = free_port()
        document = config(
            port, {"web": [a], "dead": []}, extra={"accessLog": {"enabled": True, "path": str(log)}}
        )
        document["backendAddressPools"][1]["backendAddresses"] = [
            {"ipAddress": "127.0.0.1", "port": closed_port()}
        ]
        document["urlPathMaps"] = [
            {
                "name": "m",
                "defaultBackendAddressPool": "web",
                "defaultBackendHttpSettings": "s",
                "pathRules": [
                    {
                        "name": "d",
                        "paths": ["/dead/*"],
                        "backendAddressPool": "dead",
                        "backendHttpSettings": "s",
                    }
                ],
            }
        ]
        document["requestRoutingRules"] = [
            {
                "name": "r",
                "ruleType": "PathBasedRouting",
                "priority": 1,
                "httpListener": "front",
                "urlPathMap": "m",
            }
        ]
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            wait_until(lambda: gw.routable("dead") == 0 and _probed(gw), 10, "the dead pool")
            assert [get(port).status for _ in range(3)] == [200, 200, 200]
            assert get(port, "/dead/x").status == 502
            assert gw.gateway is not None
            # The loop counts an answer right after writing it: a scrape from this thread can
            # come in between, so wait for the count of the last one.
            wait_until(lambda: 'status_group="5xx"' in render(gw.gateway).decode(), 5, "the 502")  # type: ignore[arg-type]
            text = render(gw.gateway).decode()
        wait_until(lambda: log.exists() and len(log.read_text().splitlines()) >= 4, 5, "the log")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("probegate_healthy_host_count", (("backend_settings_pool", "web~s"),))] == 1
    assert samples[("probegate_unhealthy_host_count", (("backend_settings_pool", "dead~s"),))] == 1
    server = f"127.0.0.1:{a.port}"
    ok = (("pool", "web"), ("reason", "success"), ("server", server), ("settings", "s"))
    assert samples[("probegate_probe_results_total", ok)] >= 1
    assert (
        samples[
            ("probegate_response_status_total", (("listener", "front"), ("status_group", "2xx")))
        ]
        == 3
    )
    assert (
        samples[
            ("probegate_response_status_total", (("listener", "front"), ("status_group", "5xx")))
        ]
        == 1
    )
    backend = (("pool", "web"), ("server", server), ("settings", "s"), ("status_group", "2xx"))
    assert samples[("probegate_backend_response_status_total", backend)] == 3
    assert samples[("probegate_failed_requests_total", ())] == 1
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["httpStatus"] for line in lines] == [200, 200, 200, 502]
    first = lines[0]
    assert first["serverRouted"] == server
    assert first["serverStatus"] == 200
    assert first["backendPoolName"] == "web"
    assert first["listenerName"] == "front"
    assert len(first["transactionId"]) == 32
    for field in (
        "clientIP",
        "clientPort",
        "httpMethod",
        "requestUri",
        "receivedBytes",
        "sentBytes",
        "timeTaken",
        "serverResponseLatency",
        "host",
        "originalHost",
    ):
        assert field in first
    assert "unhealthy" in lines[3]["error_info"]


def _probed(gw: RunningGateway) -> bool:
    assert gw.gateway is not None
    return any(
        v.record.last_result is not None
        for v in gw.gateway.snapshot().targets
        if v.group.pool == "dead"
    )


def test_metrics_are_served_by_the_admin_api(tmp_path: Path) -> None:
    with RecordingBackend("a") as a:
        port = free_port()
        with RunningGateway(tmp_path, config(port, {"web": [a]})) as gw:
            gw.wait_routable("web", 1)
            assert gw.admin_url is not None
            with urllib.request.urlopen(gw.admin_url + "/metrics", timeout=10) as response:
                kind = response.headers["Content-Type"]
                text = response.read().decode()
    assert kind.startswith("text/plain; version=0.0.4")
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"probegate_healthy_host_count", "probegate_probe_results"} <= names
