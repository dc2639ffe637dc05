"""HTTPS listeners under the model's TLS policies, over real sockets: `openssl s_client` on
loopback asks for one protocol version or one suite at a time, and the listener must take exactly
what its effective policy lists (SPEC section 5). Needs the `openssl` command (Debian: openssl)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from tests.integration.proxykit import RecordingBackend, RunningGateway, config, free_port

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath

OPENSSL = shutil.which("openssl")
if OPENSSL is None:  # under CI=true the conftest turns a missing tool into a failure
    pytest.skip("the openssl command is needed", allow_module_level=True)


def _handshake(port: int, *options: str) -> bool:
    """Whether a handshake with these s_client options completes against 127.0.0.1:port."""
    assert OPENSSL is not None
    done = subprocess.run(
        [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "gw.test", *options],
        input=b"",
        capture_output=True,
        timeout=20,
        check=False,
    )
    return done.returncode == 0 and b"Cipher is (NONE)" not in done.stdout


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Any]:
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    issued = ca.issue_cert("gw.test", key_type=trustme.KeyType.RSA)  # the suites below are RSA
    chain, key = tmp_path / "gw.pem", tmp_path / "gw.key"
    chain.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    key.write_bytes(issued.private_key_pem.bytes())

    def start(**tls: Any) -> tuple[RunningGateway, int]:
        port = free_port()
        document = config(port, {"web": [backend]}, extra=tls)
        document["sslCertificates"] = [{"name": "gw", "certFile": str(chain), "keyFile": str(key)}]
        document["httpListeners"][0] |= {"protocol": "Https", "sslCertificate": "gw"}
        running = RunningGateway(tmp_path, document).start()
        started.append(running)
        return running, port

    started: list[RunningGateway] = []
    with RecordingBackend("a") as backend:
        yield start
        for running in started:
            running.stop()


VERSION_FLAGS = {"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2", "1.3": "-tls1_3"}


@pytest.mark.parametrize(
    ("policy", "accepted"),
    [
        pytest.param("AppGwSslPolicy20150501", {"1.0", "1.1", "1.2"}, id="20150501"),
        pytest.param("AppGwSslPolicy20170401", {"1.1", "1.2"}, id="20170401"),
        pytest.param("AppGwSslPolicy20170401S", {"1.2"}, id="20170401S"),
        pytest.param("AppGwSslPolicy20220101", {"1.2", "1.3"}, id="20220101"),
        pytest.param("AppGwSslPolicy20220101S", {"1.2", "1.3"}, id="20220101S"),
    ],
)
def test_predefined_policy_versions(gateway: Any, policy: str, accepted: set[str]) -> None:
    _, port = gateway(sslPolicy={"policyType": "Predefined", "policyName": policy})
    for version, flag in VERSION_FLAGS.items():
        legacy = ["-cipher", "DEFAULT:@SECLEVEL=0"] if version in ("1.0", "1.1") else []
        assert _handshake(port, flag, *legacy) is (version in accepted), (policy, version)


@pytest.mark.parametrize(
    ("policy", "cipher", "accepted"),
    [
        pytest.param("AppGwSslPolicy20170401S", "ECDHE-RSA-AES128-SHA", True, id="17S-cbc-sha"),
        pytest.param("AppGwSslPolicy20170401S", "AES128-GCM-SHA256", True, id="17S-rsa-kx"),
        pytest.param("AppGwSslPolicy20220101", "ECDHE-RSA-AES128-SHA256", True, id="22-sha256"),
        pytest.param("AppGwSslPolicy20220101", "ECDHE-RSA-AES128-SHA", False, id="22-no-sha1"),
        pytest.param(
            "AppGwSslPolicy20220101S", "ECDHE-RSA-AES128-SHA256", False, id="22S-gcm-only"
        ),
        pytest.param("AppGwSslPolicy20220101S", "ECDHE-RSA-AES256-GCM-SHA384", True, id="22S-gcm"),
    ],
)
def test_predefined_policy_tls12_suites(
    gateway: Any, policy: str, cipher: str, accepted: bool
) -> None:
    _, port = gateway(sslPolicy={"policyType": "Predefined", "policyName": policy})
    assert _handshake(port, "-tls1_2", "-cipher", cipher) is accepted


@pytest.mark.parametrize(
    ("suite", "accepted"),
    [
        pytest.param("TLS_AES_128_GCM_SHA256", True, id="aes128"),
        pytest.param("TLS_AES_256_GCM_SHA384", True, id="aes256"),
        pytest.param("TLS_CHACHA20_POLY1305_SHA256", False, id="chacha-not-in-the-policy"),
    ],
)
def test_tls13_offers_only_the_policy_suites(gateway: Any, suite: str, accepted: bool) -> None:
    _, port = gateway(
        sslPolicy={"policyType": "Predefined", "policyName": "AppGwSslPolicy20220101"}
    )
    assert _handshake(port, "-tls1_3", "-ciphersuites", suite) is accepted


def test_custom_v2_and_a_profile_replacing_the_gateway_policy(gateway: Any) -> None:
    """CustomV2 at TLSv1_2 lists its TLS 1.2 suites and implies the two TLS 1.3 ones; a profile's
    CustomV2 at TLSv1_3 replaces it for the listener that names the profile."""
    profile = {
        "name": "strict",
        "sslPolicy": {"policyType": "CustomV2", "minProtocolVersion": "TLSv1_3"},
    }
    running, port = gateway(
        sslPolicy={
            "policyType": "CustomV2",
            "minProtocolVersion": "TLSv1_2",
            "cipherSuites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"],
        },
        sslProfiles=[profile],
    )
    assert _handshake(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert not _handshake(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384")
    assert _handshake(port, "-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384")
    document = json.loads(running.path.read_text())
    document["httpListeners"][0]["sslProfile"] = "strict"
    assert running.reload(document) == []
    assert _handshake(port, "-tls1_3")
    assert not _handshake(port, "-tls1_2")


def test_custom_policy_has_no_tls13(gateway: Any) -> None:
    _, port = gateway(
        sslPolicy={
            "policyType": "Custom",
            "minProtocolVersion": "TLSv1_2",
            "cipherSuites": ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"],
        }
    )
    assert _handshake(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384")
    assert not _handshake(port, "-tls1_3")
