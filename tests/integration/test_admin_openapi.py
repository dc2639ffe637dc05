"""The served OpenAPI document is true (issue 10, point 6): schemathesis runs every check it has
against the live admin API, without a token and with one, and any failure fails the test.

The gateway runs in this process (loopback only); schemathesis runs as its command line in a
subprocess, with a fixed seed and a bounded number of examples per operation so that a run takes
seconds and repeats exactly. The document itself is checked for what it must say.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.proxykit import RecordingBackend, RunningGateway, config, free_port, get

TOKEN = "openapi-token-0123456789abcdef"
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
MAX_EXAMPLES = "25"
SEED = "20261201"


@pytest.fixture(scope="module")
def backend() -> Iterator[RecordingBackend]:
    with RecordingBackend("web") as server:
        yield server


def running(folder: Path, backend: RecordingBackend, token: str | None) -> RunningGateway:
    folder.mkdir(exist_ok=True)
    admin: dict[str, Any] = {"port": 0, **({"token": token} if token else {})}
    document = config(free_port(), {"web": [backend]}, extra={"admin": admin})
    return RunningGateway(folder, document).start()


def served_document(gateway: RunningGateway, token: str | None) -> dict[str, Any]:
    assert gateway.admin_url is not None
    port = int(gateway.admin_url.rsplit(":", 1)[1])
    headers = f"Authorization: Bearer {token}\r\n" if token else ""
    reply = get(port, "/openapi.json", host="127.0.0.1", headers=headers)
    assert reply.status == 200
    document: dict[str, Any] = json.loads(reply.body)
    return document


@pytest.mark.parametrize(
    "token", [pytest.param(None, id="no-token"), pytest.param(TOKEN, id="token")]
)
def test_schemathesis_finds_nothing(
    tmp_path: Path, backend: RecordingBackend, token: str | None
) -> None:
    assert SCHEMATHESIS.exists(), f"{SCHEMATHESIS} is missing: install the dev dependencies"
    gateway = running(tmp_path, backend, token)
    try:
        gateway.wait_routable("web", 1)
        assert gateway.admin_url is not None
        command = [
            str(SCHEMATHESIS), "run", f"{gateway.admin_url}/openapi.json",
            "--checks", "all", "--max-examples", MAX_EXAMPLES, "--seed", SEED,
            "--generation-database", "none", "--request-timeout", "10", "--no-color",
            # an endless event stream is not a request/response operation to fuzz (tested
            # in test_health_stream.py)
            "--exclude-path", "/backendhealth/stream",
            *(["--header", f"Authorization: Bearer {token}"] if token else []),
        ]  # fmt: skip
        run = subprocess.run(
            command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        gateway.stop()
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
    assert "Tested: 10" in run.stdout  # every operation was exercised


def test_the_document_says_what_the_server_does(tmp_path: Path, backend: RecordingBackend) -> None:
    gateway = running(tmp_path / "open", backend, None)
    try:
        open_document = served_document(gateway, None)
    finally:
        gateway.stop()
    gateway = running(tmp_path / "token", backend, TOKEN)
    try:
        token_document = served_document(gateway, TOKEN)
    finally:
        gateway.stop()

    assert "security" not in open_document  # no token configured: none is asked for
    assert "securitySchemes" not in open_document["components"]
    assert token_document["security"] == [{"bearer": []}]
    assert token_document["paths"]["/healthz"]["get"]["security"] == []

    health = open_document["paths"]["/backendhealth"]["get"]
    lang = next(p for p in health["parameters"] if p["name"] == "lang")
    assert lang["schema"]["enum"] == ["en", "ko"]
    assert health["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/BackendHealth"
    }
    ondemand = open_document["paths"]["/backendhealth/ondemand"]["post"]["responses"]
    assert {"400", "403", "404", "409", "413", "415", "421", "429", "500"} <= set(ondemand)
    assert "401" not in ondemand  # no token, no 401
    assert ondemand["429"]["headers"]["Retry-After"]["required"] is True
    token_ondemand = token_document["paths"]["/backendhealth/ondemand"]["post"]["responses"]
    assert "401" in token_ondemand
    assert "421" not in token_ondemand  # with a token (and no allowedHosts) Host is not checked
    assert "503" in open_document["paths"]["/healthz"]["get"]["responses"]
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in open_document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if status >= "400" and status != "503":
                    shape = response["content"]["application/json"]["schema"]
                    assert shape == error, (path, method, status)
    request = open_document["components"]["schemas"]["OnDemandRequest"]
    assert request["properties"]["timeout"]["maximum"] == 1  # the longest probe timeout
    assert request["properties"]["backendAddressPool"]["anyOf"][0]["enum"] == ["web"]
