"""The dashboard in Debian's Chromium, driven headless by Playwright, against a live `probegate run`.

One healthy HTTPS backend (its certificate expires in 9 days, so it carries a warning), one port
that refuses connections and one backend answering 500, all on 127.0.0.1. The browser is the
system's `/usr/bin/chromium`: nothing is downloaded. Under CI=true a missing browser fails.
The screenshots go to $PROBEGATE_DASHBOARD_SCREENSHOT (default tests/browser/artifacts/dashboard.png)
and, in Korean, next to it as dashboard-ko.png.
"""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NoReturn

import pytest
import trustme

from probegate.demo.backends import unused_port

try:
    from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
except ImportError:  # the `browser` fixture reports it: a failure under CI=true, else a skip
    HAVE_PLAYWRIGHT = False
else:
    HAVE_PLAYWRIGHT = True

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOT = Path(
    os.environ.get("PROBEGATE_DASHBOARD_SCREENSHOT")
    or Path(__file__).parent / "artifacts" / "dashboard.png"
)
WAIT_MS = 20_000  # first probes within 2 s, then 1 s intervals; threshold 3 → down after ~4 s
WEB = "Servers of backend pool web with backend settings web-https"
API = "Servers of backend pool api with backend settings api-http"
WEB_KO = "백엔드 풀 web, 백엔드 설정 web-https 의 서버"
API_KO = "백엔드 풀 api, 백엔드 설정 api-http 의 서버"


def missing(what: str) -> NoReturn:
    """Under CI=true a missing tool fails the test; elsewhere it is skipped with the same words."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} (CI=true: the browser test must run)", pytrace=False)
    pytest.skip(what)


# ---------------------------------------------------------------------------- backends


class _Answer(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        body = b'{"status":"ok"}' if self.status == 200 else b"internal error"
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Fails(_Answer):
    status = 500


def serve(handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None) -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    return unused_port()


@dataclass(frozen=True)
class Backends:
    healthy: int
    refused: int
    failing: int
    root: Path


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backends]:
    ca = trustme.CA(organization_name="probegate dashboard test")
    leaf = ca.issue_cert(
        "web.probegate.test",
        common_name="web.probegate.test",
        organization_name="probegate tests",
        organization_unit_name="web",
        not_after=datetime.now(UTC) + timedelta(days=9, hours=1),
    )
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(tls)
    root = tmp_path_factory.mktemp("pki") / "root.pem"
    ca.cert_pem.write_to_path(str(root))
    servers = [serve(_Answer, tls), serve(_Fails)]
    yield Backends(servers[0].server_port, free_port(), servers[1].server_port, root)
    for server in servers:
        server.shutdown()
        server.server_close()


def config(b: Backends, token: str | None = None) -> str:
    admin = f"admin: {{port: 0, token: {token}}}" if token else "admin: {port: 0}"
    return textwrap.dedent(f"""\
        httpListeners:
          - {{name: web-front, port: {free_port()}, protocol: Http}}
          - {{name: api-front, port: {free_port()}, protocol: Http}}
        trustedRootCertificates:
          - {{name: test-root, certFile: {b.root}}}
        backendAddressPools:
          - name: web
            backendAddresses:
              - {{ipAddress: 127.0.0.1, port: {b.healthy}}}
              - {{ipAddress: 127.0.0.1, port: {b.refused}}}
          - name: api
            backendAddresses:
              - {{ipAddress: 127.0.0.1, port: {b.failing}}}
        backendHttpSettingsCollection:
          - {{name: web-https, port: 443, protocol: Https, probe: web-probe,
              trustedRootCertificates: [test-root]}}
          - {{name: api-http, port: 80, protocol: Http, probe: api-probe}}
        probes:
          - {{name: web-probe, protocol: Https, host: web.probegate.test, path: /health,
              interval: 1, timeout: 1, unhealthyThreshold: 3}}
          - {{name: api-probe, protocol: Http, host: api.probegate.test, path: /status,
              interval: 1, timeout: 1, unhealthyThreshold: 3}}
        requestRoutingRules:
          - {{name: web, ruleType: Basic, priority: 10, httpListener: web-front,
              backendAddressPool: web, backendHttpSettings: web-https}}
          - {{name: api, ruleType: Basic, priority: 20, httpListener: api-front,
              backendAddressPool: api, backendHttpSettings: api-http}}
        {admin}
        """)


@pytest.fixture
def gateway(tmp_path: Path, backends: Backends, request: pytest.FixtureRequest) -> Iterator[str]:
    """`probegate run` in a subprocess; yields the admin URL from its first line of output."""
    path = tmp_path / "gateway.yaml"
    path.write_text(config(backends, getattr(request, "param", None)), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "probegate", "run", "-c", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "admin API at " not in line:
        process.kill()
        pytest.fail(f"the gateway did not start: {line}{process.communicate()[1]}")
    try:
        yield line.rsplit("admin API at ", 1)[1].strip()
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)


# ---------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    if not HAVE_PLAYWRIGHT:
        missing("the playwright package is missing: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and "401" not in message.text  # the token test's first call
            else None
        ),
    )
    page.set_default_timeout(WAIT_MS)
    expect.set_options(timeout=WAIT_MS)
    yield page
    context.close()
    assert problems == []


def row(page: Page, table: str, address: str) -> Locator:
    return page.get_by_role("table", name=table).locator("tbody tr").filter(has_text=address)


def test_dashboard_shows_health_reasons_remedies_and_probes_on_demand(
    page: Page, gateway: str, backends: Backends
) -> None:
    page.goto(gateway + "/")
    expect(page).to_have_title("Backend health · probegate")
    healthy = row(page, WEB, f"127.0.0.1:{backends.healthy}")
    refused = row(page, WEB, f"127.0.0.1:{backends.refused}")
    failing = row(page, API, f"127.0.0.1:{backends.failing}")
    expect(page.get_by_role("table", name=WEB).locator("tbody tr")).to_have_count(2)
    expect(page.get_by_role("table", name=API).locator("tbody tr")).to_have_count(1)
    expect(refused.locator(".badge")).to_have_text("Unhealthy")
    expect(failing.locator(".badge")).to_have_text("Unhealthy")
    expect(healthy.locator(".badge")).to_have_text("Healthy")

    expect(healthy.locator(".reason")).to_have_text("success")
    expect(healthy).to_contain_text("takes traffic")
    expect(healthy.locator(".warning")).to_contain_text("days left")
    expect(page.get_by_role("region", name="Certificate warnings")).to_contain_text(
        "web / web-https"
    )
    expect(refused.locator(".reason")).to_have_text("tcp-connect-error")
    expect(refused.locator(".message")).to_contain_text("refused")
    expect(refused.locator(".failures")).to_have_text(re.compile(r"^([3-9]|\d\d+) / 3$"))
    expect(failing.locator(".reason")).to_have_text("http-status-code-mismatch")
    expect(failing.locator(".message")).to_contain_text("returned 500")
    expect(failing.locator(".history .tick.fail").first).to_be_visible()
    # The last 24 h from the lasting history: Unknown until the first verdict, then Unhealthy.
    expect(refused.locator(".timeline")).to_have_attribute(
        "aria-label", re.compile(r"24 h: \d+ state change")
    )
    expect(refused.locator(".timeline .segment.unhealthy")).to_have_count(1)
    expect(healthy.locator(".timeline .segment.healthy")).to_have_count(1)
    expect(page.locator(".tile-healthy .num")).to_have_text("1")
    expect(page.locator(".tile-unhealthy .num")).to_have_text("2")
    expect(page.get_by_role("table", name=WEB).get_by_role("columnheader")).to_have_count(7)

    # The remedy opens from the keyboard and stays open, with the focus, across refreshes.
    fix = failing.get_by_text("How to fix")
    fix.focus()
    page.keyboard.press("Enter")
    expect(failing.locator(".remedy p")).to_contain_text("error log")
    # State changes are pushed over GET /backendhealth/stream; details refresh every 10 s.
    expect(page.locator("body")).to_have_attribute("data-stream", "live")
    expect(page.locator("#freshness")).to_contain_text("live: state changes at once")
    before = page.locator("#freshness").inner_text()
    expect(page.locator("#freshness")).not_to_have_text(before)  # the page refreshed since
    expect(failing.locator("details.remedy")).to_have_attribute("open", "")
    assert fix.evaluate("node => node === document.activeElement")

    group = page.get_by_role("region", name=re.compile("Backend settings web-https"))
    group.get_by_role("button", name="Probe now").click()
    result = group.get_by_role("table", name=re.compile("On-demand probe of backend pool web"))
    expect(result.locator("tbody tr")).to_have_count(2)
    expect(result.locator("tbody tr").filter(has_text=str(backends.refused))).to_contain_text(
        "tcp-connect-error"
    )
    expect(result.locator("tbody tr").filter(has_text=str(backends.healthy))).to_contain_text(
        "Healthy"
    )
    expect(page.get_by_role("status")).to_contain_text("1 of 2 healthy")
    api_group = page.get_by_role("region", name=re.compile("Backend settings api-http"))
    api_group.get_by_text("Options").click()  # a one-off probe that accepts the 500
    api_group.get_by_label("Expected status").fill("500")
    api_group.get_by_role("button", name="Probe now").click()
    accepted = api_group.get_by_role(
        "table", name=re.compile("On-demand probe of backend pool api")
    )
    expect(accepted.locator("tbody tr .badge")).to_have_text("Healthy")
    expect(api_group.locator(".ondemand .note")).to_contain_text("Expected status 500")
    expect(failing.locator(".badge")).to_have_text("Unhealthy")  # and the state did not change
    api_group.get_by_text("Options").click()
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.get_by_role("button", name="한국어").click()
    healthy = row(page, WEB_KO, f"127.0.0.1:{backends.healthy}")
    refused = row(page, WEB_KO, f"127.0.0.1:{backends.refused}")
    failing = row(page, API_KO, f"127.0.0.1:{backends.failing}")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_role("heading", level=1)).to_have_text("백엔드 상태")
    expect(refused.locator(".badge")).to_have_text("비정상")
    expect(refused.locator(".message")).to_contain_text("TCP 연결에 실패했습니다")
    expect(healthy.locator(".badge")).to_have_text("정상")
    expect(healthy.locator(".warning")).to_contain_text("일 남음")
    expect(failing.locator(".remedy summary")).to_have_text("해결 방법")
    expect(failing.locator(".remedy p")).to_contain_text("오류 로그")
    expect(page.get_by_role("table", name=API_KO).get_by_role("columnheader").first).to_have_text(
        "서버"
    )
    expect(page.locator(".ondemand")).to_have_count(0)  # answers worded in English are gone
    api_group = page.get_by_role("region", name=re.compile("백엔드 설정 api-http"))
    api_group.get_by_role("button", name="지금 프로브").click()
    korean = api_group.get_by_role("table", name=re.compile("즉시 프로브 결과"))
    expect(korean.locator("tbody tr")).to_contain_text("http-status-code-mismatch")
    expect(korean.locator("tbody tr")).to_contain_text("500")
    expect(korean.locator(".badge")).to_have_text("비정상")
    page.screenshot(path=SCREENSHOT.with_name(SCREENSHOT.stem + "-ko.png"), full_page=True)
    assert "lang=ko" in page.url  # a link to the page keeps the language


@pytest.mark.parametrize("gateway", ["s3cret-token"], indirect=True)
def test_dashboard_asks_for_the_token_and_sends_it(
    page: Page, gateway: str, backends: Backends
) -> None:
    page.goto(gateway + "/")
    expect(page.get_by_role("heading", name="admin API needs its token")).to_be_visible()
    expect(page.get_by_label("Admin token")).to_be_focused()
    page.get_by_label("Admin token").fill("wrong")
    page.get_by_role("button", name="Use token").click()
    expect(page.get_by_text("refused this token")).to_be_visible()
    page.get_by_label("Admin token").fill("s3cret-token")
    page.keyboard.press("Enter")
    expect(row(page, API, f"127.0.0.1:{backends.failing}").locator(".badge")).to_have_text(
        "Unhealthy"
    )
    page.reload()  # the token stays for this tab (sessionStorage)
    expect(page.get_by_role("table", name=WEB).locator("tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Forget token").click()
    expect(page.get_by_label("Admin token")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
