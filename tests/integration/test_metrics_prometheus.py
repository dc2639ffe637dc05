"""What Prometheus users reach for first, over real sockets: a per-server health series an alert
can match, request-duration histograms per listener and pool, build info, the reload outcome,
and the process collector."""

from __future__ import annotations

import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from probegate.demo.backends import wait_until
from probegate.demo.faults import closed_port
from probegate.metrics import render
from tests.integration.proxykit import RecordingBackend, RunningGateway, config, free_port, get


def scrape(gw: RunningGateway) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert gw.gateway is not None
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(render(gw.gateway).decode())
        for s in family.samples
    }


def test_server_health_durations_build_and_reload(tmp_path: Path) -> None:
    with RecordingBackend("a") as a:
        port = free_port()
        document = config(port, {"web": [a]})
        dead = {"ipAddress": "127.0.0.1", "port": closed_port()}
        document["backendAddressPools"][0]["backendAddresses"].append(dead)
        document["probes"][0]["unhealthyThreshold"] = 0
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            assert gw.gateway is not None
            wait_until(lambda: all(v.record.last_result for v in gw.gateway.snapshot().targets), 10, "probes")  # type: ignore[union-attr]  # fmt: skip
            assert [get(port).status for _ in range(3)] == [200, 200, 200]
            started = time.time()
            samples = scrape(gw)
            live = f"127.0.0.1:{a.port}"
            down = f"127.0.0.1:{dead['port']}"
            up = (("pool", "web"), ("reason", "success"), ("server", live), ("settings", "s"), ("state", "Healthy"))  # fmt: skip
            assert samples[("probegate_backend_server_health", up)] == 1
            failing = (("pool", "web"), ("reason", "tcp-connect-error"), ("server", down), ("settings", "s"), ("state", "Unhealthy"))  # fmt: skip
            assert samples[("probegate_backend_server_health", failing)] == 1
            assert len([k for k in samples if k[0] == "probegate_backend_server_health"]) == 2
            assert samples[("probegate_backend_server_routable", (("pool", "web"), ("server", down), ("settings", "s")))] == 0  # fmt: skip
            routed = (("listener", "front"), ("pool", "web"), ("settings", "s"))
            assert samples[("probegate_request_duration_seconds_count", routed)] >= 3
            assert samples[("probegate_request_duration_seconds_bucket", (("le", "+Inf"), *routed))] >= 3  # fmt: skip
            assert samples[("probegate_request_duration_seconds_sum", routed)] > 0
            assert samples[("probegate_config_last_reload_successful", ())] == 1
            first_load = samples[("probegate_config_last_reload_success_timestamp_seconds", ())]
            assert first_load <= started
            assert any(k[0] == "process_cpu_seconds_total" for k in samples)
            build = next(k for k in samples if k[0] == "probegate_build_info")
            assert dict(build[1])["version"]

            broken = dict(document, probes=[dict(document["probes"][0], interval=0)])
            assert gw.reload(broken)
            samples = scrape(gw)
            assert samples[("probegate_config_last_reload_successful", ())] == 0
            assert samples[("probegate_config_last_reload_success_timestamp_seconds", ())] == first_load  # fmt: skip
            assert gw.reload(document) == []
            samples = scrape(gw)
            assert samples[("probegate_config_last_reload_successful", ())] == 1
            assert samples[("probegate_config_last_reload_success_timestamp_seconds", ())] > first_load  # fmt: skip
