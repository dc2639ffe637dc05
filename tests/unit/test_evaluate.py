"""Observation → result (SPEC section 4): the first failing phase decides, facts are filled in."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from probegate.config.compile import compile_plan
from probegate.config.effective import EffectiveProbe, effective_probes
from probegate.config.load import load_document
from probegate.health import messages
from probegate.health.codes import Reason
from probegate.health.evaluate import evaluate, excerpt
from probegate.health.observation import (
    Failure,
    HttpFacts,
    Observation,
    Phase,
    Resolution,
    TlsFacts,
)
from probegate.health.result import WarningCode
from probegate.health.tlscheck import CertVerdict, ExpiryWarning


def probe(**probe_fields: Any) -> EffectiveProbe:
    document = {
        "httpListeners": [{"name": "front", "port": 8080, "protocol": "Http"}],
        "backendAddressPools": [
            {"name": "web", "backendAddresses": [{"fqdn": "app.example.test"}]}
        ],
        "backendHttpSettingsCollection": [
            {"name": "s", "port": 8081, "protocol": "Http", "probe": "p"}
        ],
        "probes": [
            {
                "name": "p",
                "protocol": "Http",
                "host": "app.example.test",
                "path": "/health",
                **probe_fields,
            }
        ],
        "requestRoutingRules": [
            {
                "name": "r",
                "ruleType": "Basic",
                "httpListener": "front",
                "backendAddressPool": "web",
                "backendHttpSettings": "s",
            }
        ],
    }
    return effective_probes(compile_plan(load_document(document, "test", Path.cwd())))[0]


RESOLVED = Resolution(resolver="127.0.0.53:5353", addresses=("127.0.0.11",), ttl=60)
NXDOMAIN = Resolution(resolver="127.0.0.53:5353", addresses=(), answer="NXDOMAIN")
LOST = Resolution(
    resolver="127.0.0.54:53", addresses=(), answer="NXDOMAIN", resolved_before="127.0.0.53:5353"
)


def http(status: int = 200, body: bytes = b"ok") -> HttpFacts:
    return HttpFacts(status=status, reason="X", headers=(), body=body, body_truncated=False)


def seen(failure: Failure | None = None, *, detail: str = "", response: HttpFacts | None = None,
         resolution: Resolution | None = RESOLVED, tls: TlsFacts | None = None) -> Observation:  # fmt: skip
    return Observation(
        started_at=1_800_000_000.0,
        phase=Phase.MATCH if failure is None else Phase.CONNECT,
        failure=failure,
        detail=detail,
        timings_ms={Phase.RESOLVE: 1.0, Phase.CONNECT: 2.0},
        duration_ms=3.5,
        resolution=resolution,
        connected_to="127.0.0.11:8081",
        tls=tls,
        http=response,
    )


def verdict(reason: Reason, **facts: str) -> CertVerdict:
    return CertVerdict(reason=reason, facts=facts, chain=(), expiring=())


@pytest.mark.parametrize(
    ("observation", "certificate", "fields", "reason", "words"),
    [
        pytest.param(seen(response=http()), None, {}, Reason.SUCCESS, "answered 200", id="success"),
        pytest.param(
            seen(Failure.DNS_NXDOMAIN, resolution=NXDOMAIN),
            None,
            {},
            Reason.DNS_RESOLUTION_ERROR,
            "127.0.0.53:5353 answered NXDOMAIN",
            id="nxdomain",
        ),
        pytest.param(
            seen(Failure.DNS_NXDOMAIN, resolution=LOST),
            None,
            {},
            Reason.DNS_LAST_GOOD_LOST,
            "resolved before through 127.0.0.53:5353, but 127.0.0.54:53 now answers NXDOMAIN",
            id="nxdomain-after-the-resolver-was-replaced",
        ),
        pytest.param(
            seen(Failure.CONNECT_REFUSED, detail="refused"),
            None,
            {},
            Reason.TCP_CONNECT_ERROR,
            "127.0.0.11:8081 failed: refused",
            id="refused",
        ),
        pytest.param(
            seen(Failure.CONNECT_TIMEOUT, detail="timed out after 1000 ms"),
            None,
            {},
            Reason.TCP_CONNECT_ERROR,
            "timed out after 1000 ms",
            id="connect-timeout",
        ),
        pytest.param(
            seen(Failure.TLS_HANDSHAKE, detail="wrong version number"),
            None,
            {},
            Reason.TLS_HANDSHAKE_ERROR,
            "wrong version number",
            id="handshake",
        ),
        pytest.param(
            seen(Failure.RESPONSE_TIMEOUT, detail="no response head within 1000 ms"),
            None,
            {"timeout": 1},
            Reason.BACKEND_SERVER_TIMEOUT,
            "probe timeout 1000 ms",
            id="response-timeout",
        ),
        pytest.param(
            seen(Failure.RESPONSE_CLOSED, detail="closed before the head"),
            None,
            {},
            Reason.INVALID_HTTP_RESPONSE,
            "closed before the head",
            id="closed",
        ),
        pytest.param(
            seen(Failure.RESPONSE_MALFORMED, detail="invalid status line"),
            None,
            {},
            Reason.INVALID_HTTP_RESPONSE,
            "invalid status line",
            id="malformed",
        ),
        pytest.param(
            seen(response=http(404)),
            None,
            {},
            Reason.HTTP_STATUS_CODE_MISMATCH,
            "returned 404; the probe expects 200-399",
            id="status",
        ),
        pytest.param(
            seen(response=http(401)),
            None,
            {"match": {"statusCodes": ["401", "200-204"]}},
            Reason.SUCCESS,
            "answered 401",
            id="custom-status",
        ),
        pytest.param(
            seen(response=http(200, b"degraded")),
            None,
            {"match": {"body": "healthy"}},
            Reason.HTTP_RESPONSE_BODY_MISMATCH,
            '"healthy"',
            id="body",
        ),
        pytest.param(
            seen(response=http(200, b"all Healthy here")),
            None,
            {"match": {"body": "healthy"}},
            Reason.HTTP_RESPONSE_BODY_MISMATCH,
            "begins: 'all Healthy here'",
            id="body-is-case-sensitive",
        ),
        pytest.param(
            seen(response=http(503)),
            verdict(Reason.NAME_MISMATCH, expected="a", presented="b"),
            {},
            Reason.NAME_MISMATCH,
            "names b, but the probe expects a",
            id="certificate-before-status",
        ),
        pytest.param(
            seen(Failure.RESPONSE_TIMEOUT),
            verdict(Reason.INTERMEDIATE_MISSING, subject="x", missing_issuer="y"),
            {},
            Reason.INTERMEDIATE_MISSING,
            "without its issuer y",
            id="certificate-before-timeout",
        ),
        pytest.param(
            seen(Failure.CONNECT_REFUSED, detail="refused"),
            verdict(Reason.NAME_MISMATCH),
            {},
            Reason.TCP_CONNECT_ERROR,
            "refused",
            id="connect-before-certificate",
        ),
    ],
)
def test_first_failing_phase_decides(
    observation: Observation,
    certificate: CertVerdict | None,
    fields: dict[str, Any],
    reason: Reason,
    words: str,
) -> None:
    result = evaluate(observation, probe(**fields), certificate)
    assert result.reason is reason
    assert words in messages.message(result.reason, result.facts)
    assert result.phases_ms == {"resolve": 1.0, "connect": 2.0}
    assert result.duration_ms == 3.5


def test_last_good_addresses_pass_with_a_warning() -> None:
    stale = Resolution(
        resolver="127.0.0.53:5353",
        addresses=("127.0.0.11",),
        answer="NXDOMAIN",
        from_last_good=True,
    )
    result = evaluate(seen(response=http(), resolution=stale), probe(), None)
    assert result.passed
    (warning,) = result.warnings
    assert warning.code is WarningCode.DNS_LAST_GOOD
    assert warning.facts["addresses"] == "127.0.0.11"


def test_expiring_certificate_is_a_warning_on_success() -> None:
    soon = ExpiryWarning(subject="CN=app", not_after=datetime(2027, 1, 5, tzinfo=UTC), days_left=5)
    certificate = CertVerdict(reason=Reason.SUCCESS, facts={}, chain=(), expiring=(soon,))
    result = evaluate(seen(response=http(), tls=TlsFacts(chain=(b"x",))), probe(), certificate)
    assert result.passed
    assert [w.code for w in result.warnings] == [WarningCode.CERTIFICATE_EXPIRING]
    assert "5 days left" in messages.warning_text(result.warnings[0].code, result.warnings[0].facts)


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        pytest.param(b"", "(empty body)", id="empty"),
        pytest.param(b"line one\r\nline\x00two", "'line one  line two'", id="unprintable"),
        pytest.param(b"x" * 500, "'" + "x" * 120 + "…'", id="long"),
        pytest.param("한국어 본문".encode(), "'한국어 본문'", id="utf8"),
    ],
)
def test_excerpt(body: bytes, shown: str) -> None:
    assert excerpt(body) == shown
