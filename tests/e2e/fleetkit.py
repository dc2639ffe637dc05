"""Three `probegate run` instances over the same two backends, each probing on its own: the
fleet view's e2e and browser tests share them. Instance `c` probes pool `api` at `/missing`
(the backend answers 404 there), so that server is Unhealthy on `c` only."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from probegate.demo.backends import unused_port
from tests.e2e.okserver import ok_server
from tests.e2e.test_run import Gateway

NAMES = ("a", "b", "c")
FAILING_ON = "c"
TOKEN = "fleet-test-token"  # every instance has it: `--url A --url B` shares one token


def fleet_config(web: int, api: int, api_path: str, token: str) -> str:
    return textwrap.dedent(f"""\
        httpListeners:
          - {{name: web-front, port: {unused_port()}, protocol: Http}}
          - {{name: api-front, port: {unused_port()}, protocol: Http}}
        backendAddressPools:
          - {{name: web, backendAddresses: [{{ipAddress: 127.0.0.1, port: {web}}}]}}
          - {{name: api, backendAddresses: [{{ipAddress: 127.0.0.1, port: {api}}}]}}
        backendHttpSettingsCollection:
          - {{name: web-http, port: 80, protocol: Http, probe: web-probe}}
          - {{name: api-http, port: 80, protocol: Http, probe: api-probe}}
        probes:
          - {{name: web-probe, protocol: Http, host: web.example.test, path: /health,
              interval: 1, timeout: 1, unhealthyThreshold: 1}}
          - {{name: api-probe, protocol: Http, host: api.example.test, path: {api_path},
              interval: 1, timeout: 1, unhealthyThreshold: 1}}
        requestRoutingRules:
          - {{name: web, ruleType: Basic, priority: 10, httpListener: web-front,
              backendAddressPool: web, backendHttpSettings: web-http}}
          - {{name: api, ruleType: Basic, priority: 20, httpListener: api-front,
              backendAddressPool: api, backendHttpSettings: api-http}}
        admin: {{port: 0, token: {token}}}
        """)


@dataclass
class Fleet:
    gateways: dict[str, Gateway]
    web: str  # the servers' addresses as the instances report them
    api: str

    def url(self, name: str) -> str:
        return self.gateways[name].url


def _settled(gateway: Gateway, token: str, unhealthy: int) -> None:
    """Every server has its verdict (one Unhealthy on `c`, none elsewhere)."""
    deadline = time.monotonic() + 20
    while True:
        servers = gateway.servers(token)
        states = [s["health"] for s in servers]
        if states.count("Unknown") == 0 and states.count("Unhealthy") == unhealthy:
            return
        assert time.monotonic() < deadline, servers
        time.sleep(0.1)


@contextmanager
def three_instances(tmp_path: Path) -> Iterator[Fleet]:
    with ExitStack() as stack:
        web = stack.enter_context(ok_server()).server_address[1]
        api = stack.enter_context(ok_server()).server_address[1]
        gateways: dict[str, Gateway] = {}
        try:
            for name in NAMES:
                path = tmp_path / f"gateway-{name}.yaml"
                api_path = "/missing" if name == FAILING_ON else "/health"
                path.write_text(fleet_config(web, api, api_path, TOKEN), encoding="utf-8")
                gateways[name] = Gateway(path)
            for name, gateway in gateways.items():
                _settled(gateway, TOKEN, 1 if name == FAILING_ON else 0)
            yield Fleet(gateways, f"127.0.0.1:{web}", f"127.0.0.1:{api}")
        finally:
            for gateway in gateways.values():
                gateway.stop()
