"""`probegate diagnose` in a subprocess against real backends: phases, the presented chain, verdict."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from probegate.demo.backends import HttpBackend, TlsBackend
from probegate.demo.faults import closed_port
from tests.certs import YEAR, Issued, make

pytestmark = pytest.mark.e2e
TODAY = datetime.now(UTC).replace(microsecond=0)


def probegate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "probegate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def pem(issued: Issued) -> bytes:
    return issued.cert.public_bytes(Encoding.PEM)


@pytest.fixture
def chain(tmp_path: Path) -> tuple[Issued, Issued, Issued, Path]:
    """A private CA valid today: root → intermediate → leaf; the root written to a file."""
    start, end = TODAY - YEAR, TODAY + YEAR
    root = make("Diagnose Root CA", ca=True, not_before=start, not_after=end)
    intermediate = make(
        "Diagnose Issuing CA", issuer=root, ca=True, not_before=start, not_after=end
    )
    leaf = make(
        "app.example.test",
        issuer=intermediate,
        sans=("app.example.test",),
        not_before=start,
        not_after=end,
    )
    root_file = tmp_path / "root.pem"
    root_file.write_bytes(pem(root))
    return root, intermediate, leaf, root_file


def key_pem(issued: Issued) -> bytes:
    return issued.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def test_missing_intermediate_shows_the_chain_and_names_the_issuer(
    chain: tuple[Issued, Issued, Issued, Path],
) -> None:
    _, _, leaf, root_file = chain
    with TlsBackend([pem(leaf)], key_pem(leaf)) as backend:
        url = f"https://{backend.address}/health"
        table = probegate(
            "diagnose", url, "--host", "app.example.test", "--trusted-root", str(root_file)
        )
        data = probegate(
            "diagnose",
            url,
            "--host",
            "app.example.test",
            "--trusted-root",
            str(root_file),
            "--json",
        )
    assert table.returncode == 1, table.stderr
    assert "certificates as presented" in table.stdout
    assert "CN=app.example.test" in table.stdout
    assert "intermediate-certificate-missing" in table.stdout
    assert "without its issuer CN=Diagnose Issuing CA" in table.stdout
    assert "leaf first: right order; incomplete: CN=Diagnose Issuing CA" in table.stdout
    report = json.loads(data.stdout)
    assert report["verdict"]["reason"] == "intermediate-certificate-missing"
    assert "CN=Diagnose Issuing CA" in report["verdict"]["message"]
    (presented,) = report["tls"]["chain"]
    assert (
        presented["subject"].endswith("CN=app.example.test")
        or "CN=app.example.test" in presented["subject"]
    )
    assert "Diagnose Issuing CA" in presented["issuer"]
    assert report["tls"]["checkedAgainst"] == "trusted roots: root0"
    assert report["tls"]["sniSent"] == "app.example.test"
    assert set(report["phases"]) >= {"connect", "tls"}


def test_complete_chain_is_healthy_and_shows_the_response(
    chain: tuple[Issued, Issued, Issued, Path],
) -> None:
    _, intermediate, leaf, root_file = chain
    with TlsBackend(
        [pem(leaf), pem(intermediate)], key_pem(leaf), body=b'{"status":"ok"}'
    ) as backend:
        result = probegate(
            "diagnose", f"https://{backend.address}/health", "--host", "app.example.test",
            "--trusted-root", str(root_file), "--body", '"status":"ok"', "--json",
        )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"]["reason"] == "success"
    assert [c["isCA"] for c in report["tls"]["chain"]] == [False, True]
    assert report["http"]["status"] == 200
    assert "status" in report["http"]["bodyExcerpt"]


def one_pool(folder: Path, *ports: int) -> Path:
    """A gateway file with pool 'web' (127.0.0.1 on each port) and settings 'web-http'."""
    members = ", ".join(f"{{ipAddress: 127.0.0.1, port: {port}}}" for port in ports)
    config = folder / "gateway.yaml"
    config.write_text(
        f"""\
httpListeners: [{{name: front, port: 8080, protocol: Http}}]
backendAddressPools: [{{name: web, backendAddresses: [{members}]}}]
backendHttpSettingsCollection: [{{name: web-http, port: 80, protocol: Http}}]
requestRoutingRules:
  - {{name: all, ruleType: Basic, httpListener: front, backendAddressPool: web, backendHttpSettings: web-http}}
""",
        encoding="utf-8",
    )
    return config


def test_refused_connect_in_korean() -> None:
    result = probegate("diagnose", f"http://127.0.0.1:{closed_port()}/", "--lang", "ko")
    assert result.returncode == 1
    assert "tcp-connect-error" in result.stdout
    assert "TCP 연결에 실패" in result.stdout


def test_diagnose_configured_targets(tmp_path: Path) -> None:
    with HttpBackend(503, b"maintenance") as backend:
        config = one_pool(tmp_path, backend.port)
        result = probegate("diagnose", "-c", str(config), "--pool", "web", "--json")
        missing = probegate("diagnose", "-c", str(config), "--pool", "nope")
    assert result.returncode == 1
    (report,) = json.loads(result.stdout)  # -c always gives a list
    assert report["verdict"]["reason"] == "http-status-code-mismatch"
    assert "returned 503" in report["verdict"]["message"]
    assert "unavailable" in report["verdict"]["remedy"]
    assert missing.returncode == 2
    assert "--pool: no backend address pool is named 'nope' (defined: web)" in missing.stderr


@pytest.mark.parametrize(
    ("url", "words"),
    [
        pytest.param("ftp://127.0.0.1/", "http:// or https:// URL", id="scheme"),
        pytest.param("http://127.0.0.11:99999/", "is not a usable URL", id="port-range"),
        pytest.param("http://[::1/", "is not a usable URL", id="bracket"),
        pytest.param("http://127.0.0.11:0/", "between 1 and 65535", id="port-zero"),
    ],
)
def test_diagnose_refuses_bad_urls(url: str, words: str) -> None:
    bad = probegate("diagnose", url)
    assert bad.returncode == 2
    assert words in bad.stderr
    assert "Traceback" not in bad.stderr


def test_diagnose_needs_a_target() -> None:
    assert probegate("diagnose").returncode == 2


def test_backend_health_from_a_file_probes_once(tmp_path: Path) -> None:
    with HttpBackend(200) as backend:
        config = one_pool(tmp_path, backend.port, closed_port())
        table = probegate("backend-health", "-c", str(config))
        data = probegate("backend-health", "-c", str(config), "--json")
    assert table.returncode == 1
    assert "Healthy" in table.stdout
    assert "tcp-connect-error" in table.stdout
    document = json.loads(data.stdout)
    servers = document["backendAddressPools"][0]["backendHttpSettingsCollection"][0]["servers"]
    assert [s["health"] for s in servers] == ["Healthy", "Unhealthy"]
    assert [s["routable"] for s in servers] == [True, False]
    assert [s["consecutiveFailures"] for s in servers] == [0, 1]
    assert servers[0]["lastSuccess"] is not None
    assert servers[1]["lastSuccess"] is None
    assert servers[1]["unhealthyThreshold"] == 3


def test_probe_on_demand_from_a_file_with_overrides(tmp_path: Path) -> None:
    with HttpBackend(200, b"ready") as backend:
        config = one_pool(tmp_path, backend.port)
        ok = probegate("probe", "-c", str(config), "--pool", "web", "--settings", "web-http",
                       "--path", "/ready", "--host", "web.example.test", "--json")  # fmt: skip
        strict = probegate("probe", "-c", str(config), "--pool", "web", "--settings", "web-http",
                           "--status", "204", "--lang", "ko")  # fmt: skip
        unknown = probegate("probe", "-c", str(config), "--pool", "nope", "--settings", "web-http")
    assert ok.returncode == 0, ok.stderr
    (server,) = json.loads(ok.stdout)["backendHealthHttpSettings"]["servers"]
    assert server["health"] == "Healthy"
    assert server["probe"]["url"].endswith("/ready")
    assert backend.requests[0].header("host") == "web.example.test"
    assert backend.requests[0].path == "/ready"
    assert strict.returncode == 1
    assert "http-status-code-mismatch" in strict.stdout
    assert unknown.returncode == 2
    assert "no backend address pool is named 'nope'" in unknown.stderr


@pytest.mark.parametrize(
    ("options", "words"),
    [
        pytest.param(["--path", "noslash"], "'path' must start with '/'", id="path"),
        pytest.param(
            ["--host", "a b"],
            "'host': must not contain control characters or spaces, got a space at position 1",
            id="host",
        ),
        pytest.param(["--timeout", "-5"], "between 1 and 86400", id="timeout"),
        pytest.param(
            ["--pick-host-name"], "needs settings 'web-http' to have 'hostName'", id="pick-host"
        ),
    ],
)
def test_probe_overrides_are_checked_as_the_api_checks_them(
    tmp_path: Path, options: list[str], words: str
) -> None:
    config = one_pool(tmp_path, closed_port())
    result = probegate(
        "probe", "-c", str(config), "--pool", "web", "--settings", "web-http", *options
    )
    assert result.returncode == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_diagnose_shows_the_probe_headers_it_sends(tmp_path: Path) -> None:
    with HttpBackend(200, b"ok") as backend:
        config = tmp_path / "gateway.yaml"
        config.write_text(
            f"""\
httpListeners: [{{name: front, port: 8080, protocol: Http}}]
backendAddressPools: [{{name: web, backendAddresses: [{{ipAddress: 127.0.0.1, port: {backend.port}}}]}}]
backendHttpSettingsCollection: [{{name: web-http, port: 80, protocol: Http, probe: p}}]
probes:
  - {{name: p, protocol: Http, host: web.test, path: /, headers: [{{name: X-Probe-Tag, value: blue}}]}}
requestRoutingRules:
  - {{name: all, ruleType: Basic, httpListener: front, backendAddressPool: web, backendHttpSettings: web-http}}
""",
            encoding="utf-8",
        )
        shown = probegate("diagnose", "-c", str(config), "--pool", "web")
        data = probegate("diagnose", "-c", str(config), "--pool", "web", "--json")
    assert shown.returncode == 0, shown.stderr
    assert "X-Probe-Tag: blue" in shown.stdout
    (report,) = json.loads(data.stdout)
    assert report["headers"] == [{"name": "X-Probe-Tag", "value": "blue"}]
