"""The presented certificate chain → a certificate verdict with a specific reason (SPEC section 5).

Rules of this module:
- pure: no sockets, no asyncio, no wall clock (`now` is an argument); the evidence comes from
  `certinfo`; a `SystemStore` (the platform's CAs) is built once by the caller, not per probe;
- OpenSSL decides pass or fail: pyOpenSSL verifies the first certificate, the others offered as
  untrusted helpers, against the same roots at `now`. The structure (`certinfo.build_path`: issuer
  by name, key id and signature, an anchor preferred) only chooses WHICH reason explains a failure;
- OpenSSL's verify codes are compared by their names' numbers in the linked OpenSSL, never by text.

Classification, first match wins:
 1. nothing presented                                   → certificate-verification-failed
 2. not-validated / insecure-skip-verify                → success (the chain is still described)
    name-only (validateCertChainAndExpiry false): only the first certificate's name, as 5j
 3. a certificate `cryptography` cannot read            → certificate-verification-failed
 4. v1: the first certificate is not byte-equal (DER) to an authentication certificate →
    authentication-certificate-mismatch; then the name, as 5j. No chain building in v1.
 5. v2 (trusted roots, or the system store): the rules of `chainrules`, in their order (5a-5j:
    the chain's shape, then what explains OpenSSL's failure, then what OpenSSL leaves unchecked).
 6. success; `expiring` lists the presented leaf/intermediates (not a self-signed root the server
    also sent) whose not_after is within `warn_days` of `now`.

Fact keys (text; dates ISO 8601 UTC). Always the leaf's `subject`, `issuer`, `not_before`,
`not_after` (the first non-CA when out of order). Per reason, in addition:
- certificate-verification-failed: `openssl_code`, `openssl_error`, `depth` ("none" without an
  OpenSSL code), `failed_subject`; `signature_failure` (5e), `extended_key_usage` (5i);
- authentication-certificate-mismatch: `sha256`, `configured` (the certificates' config names);
- leaf-certificate-not-topmost: `first_subject`, `leaf_subject`, `leaf_depth`;
- backend-certificate-is-invalid: `which`, `validity` ("expired" / "not yet valid"), `depth`, `now`;
  `not_before` / `not_after` are then THAT certificate's;
- intermediate-certificate-missing: `missing_issuer`, `missing_issuer_key_id`; and `shape` for a
  self-signed non-CA (then `missing_issuer` is its own subject);
- trusted-root-certificate-mismatch(-root-presented): `chain_root`, `roots`;
  backend-server-certificate-invalid-ca: `chain_root`;
- intermediate-certificate-not-signed-by-well-known-ca: `top_intermediate`, `missing_issuer`;
- leaf-certificate-missing: `presented` (the subjects sent, in order);
- backend-certificate-invalid-common-name-cn: `expected`, `presented`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import assert_never

from cryptography import x509

from probegate.config.effective import EffectiveProbe, TlsMode
from probegate.health.certinfo import (
    CertificateInfo,
    SystemStore,
    default_system_store,
    describe,
    fingerprint,
    is_ca,
    iso,
    load_anchors,
    parse,
    shown,
    verifier_for,
)
from probegate.health.chainrules import NONE, Facts, Finding, TrustPolicy, check_v2, name_finding
from probegate.health.codes import Reason

__all__ = [  # some live in `certinfo` and `chainrules`; callers import them all from here
    "CertVerdict",
    "CertificateInfo",
    "ExpiryWarning",
    "SystemStore",
    "TrustPolicy",
    "check_chain",
    "default_system_store",
    "describe_chain",
    "trust_policy",
]

_UNVALIDATED = frozenset({TlsMode.NOT_VALIDATED, TlsMode.INSECURE_SKIP_VERIFY})


@dataclass(frozen=True, slots=True)
class ExpiryWarning:
    subject: str
    not_after: datetime
    days_left: int  # rounded down; negative when already expired (possible only unvalidated)


@dataclass(frozen=True, slots=True)
class CertVerdict:
    reason: Reason  # Reason.SUCCESS or one of codes.CERTIFICATE_REASONS
    facts: Facts
    chain: tuple[CertificateInfo, ...]  # as presented, same order
    expiring: tuple[ExpiryWarning, ...] = ()  # on success only


def trust_policy(probe: EffectiveProbe) -> TrustPolicy:
    settings = probe.target.settings
    mode = probe.tls.value
    if mode is TlsMode.TRUSTED_ROOTS:
        certificates = settings.trusted_roots
    elif mode is TlsMode.AUTHENTICATION_CERTIFICATES:
        certificates = settings.authentication_certificates
    else:
        certificates = ()
    return TrustPolicy(
        mode=mode,
        anchors=tuple(der for c in certificates for der in c.ders),
        anchor_names=tuple(c.name for c in certificates),
        expected_name=probe.verify_name.value,
    )


# ------------------------------------------------------------------------------ the verdict


def describe_chain(chain: Sequence[bytes]) -> tuple[CertificateInfo, ...]:
    """Every readable presented certificate, in the order sent (an unreadable one is left out;
    `check_chain` reports it)."""
    return tuple(describe(cert) for cert in _parse_all(chain) if cert is not None)


def _parse_all(chain: Sequence[bytes]) -> list[x509.Certificate | None]:
    return [_try_parse(der) for der in chain]


def _try_parse(der: bytes) -> x509.Certificate | None:
    """None for a certificate `cryptography` cannot read. Extensions are parsed lazily, so they
    are read here too: a malformed one (a duplicated extension, say) must fail now, not later."""
    try:
        cert = parse(der)
        describe(cert)
    except Exception:
        return None
    return cert


def check_chain(
    chain: Sequence[bytes],
    policy: TrustPolicy,
    now: datetime,
    *,
    warn_days: int = 14,
    system_store: SystemStore | None = None,
) -> CertVerdict:
    now = _utc_seconds(now)
    parsed = _parse_all(chain)
    info = tuple(describe(cert) for cert in parsed if cert is not None)
    if not parsed:
        return CertVerdict(Reason.CERTIFICATE_VERIFICATION_FAILED, _nothing_presented(), ())
    leaf = _leaf_facts(parsed) if parsed[0] is not None else _no_leaf("unreadable certificate")
    reason, facts = _judge(parsed, chain, policy, now, system_store)
    if reason is not Reason.SUCCESS:
        return CertVerdict(reason, leaf | facts, info)
    return CertVerdict(reason, leaf | facts, info, _expiring(info, now, warn_days))


def _utc_seconds(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("check_chain needs an aware datetime for 'now'")
    # OpenSSL compares at whole seconds; so does the structure, or the two could disagree.
    return now.astimezone(UTC).replace(microsecond=0)


def _judge(
    parsed: Sequence[x509.Certificate | None],
    chain: Sequence[bytes],
    policy: TrustPolicy,
    now: datetime,
    system_store: SystemStore | None,
) -> Finding:
    """Rules 2-5 of the header (rule 1 is the caller's)."""
    if policy.mode in _UNVALIDATED:
        return Reason.SUCCESS, {}
    if policy.mode is TlsMode.NAME_ONLY and parsed[0] is not None:
        # validateCertChainAndExpiry false: no chain, trust or dates; the first certificate's
        # name is all that is checked (the server's certificate, as a TLS client reads it)
        return name_finding(parsed[0], policy.expected_name) or (Reason.SUCCESS, {})
    if None in parsed:
        return Reason.CERTIFICATE_VERIFICATION_FAILED, _unreadable(parsed)
    certs = tuple(c for c in parsed if c is not None)
    match policy.mode:
        case TlsMode.AUTHENTICATION_CERTIFICATES:
            return _check_v1(certs[0], chain[0], policy)
        case TlsMode.TRUSTED_ROOTS:
            anchors = load_anchors(policy.anchors)
            return check_v2(certs, policy, now, anchors, verifier_for(anchors))
        case TlsMode.SYSTEM_STORE:
            store = system_store or default_system_store()
            return check_v2(certs, policy, now, (), store.verify)
        case TlsMode.NAME_ONLY:  # its first certificate was unreadable
            return Reason.CERTIFICATE_VERIFICATION_FAILED, _unreadable(parsed)
        case TlsMode.NONE | TlsMode.NOT_VALIDATED | TlsMode.INSECURE_SKIP_VERIFY:
            # NONE never has a chain to judge; the other two returned above.
            raise ValueError(f"no certificate check exists for TLS mode {policy.mode}")
        case _:
            assert_never(policy.mode)


def _check_v1(leaf: x509.Certificate, leaf_der: bytes, policy: TrustPolicy) -> Finding:
    if leaf_der not in policy.anchors:
        return Reason.AUTHENTICATION_CERTIFICATE_MISMATCH, {
            "subject": shown(leaf.subject),
            "sha256": fingerprint(leaf),
            "configured": ", ".join(policy.anchor_names) or NONE,
        }
    return name_finding(leaf, policy.expected_name) or (Reason.SUCCESS, {})


# ------------------------------------------------------------------------------ facts


def _leaf_facts(parsed: Sequence[x509.Certificate | None]) -> Facts:
    certs = [c for c in parsed if c is not None]
    leaf = certs[0]
    if is_ca(leaf):
        # Out of order: the leaf is the first non-CA, if the server sent one at all.
        leaf = next((c for c in certs[1:] if not is_ca(c)), leaf)
    return {
        "subject": shown(leaf.subject),
        "issuer": shown(leaf.issuer),
        "not_before": iso(leaf.not_valid_before_utc),
        "not_after": iso(leaf.not_valid_after_utc),
    }


def _no_leaf(words: str) -> Facts:
    return {"subject": words, "issuer": words, "not_before": words, "not_after": words}


def _nothing_presented() -> Facts:
    return _no_leaf("nothing presented") | {
        "openssl_code": NONE,
        "openssl_error": "the server presented no certificate",
        "depth": NONE,
    }


def _unreadable(parsed: Sequence[x509.Certificate | None]) -> Facts:
    depth = parsed.index(None)
    return {
        "openssl_code": NONE,
        "openssl_error": f"certificate {depth} of the chain is not a readable X.509 certificate",
        "depth": str(depth),
    }


def _days_left(remaining: timedelta) -> int:
    """Whole days, rounded up: a certificate that ends in 4 days and 23 hours has 5 days left."""
    return -(-remaining // timedelta(days=1))


def _expiring(
    info: tuple[CertificateInfo, ...], now: datetime, warn_days: int
) -> tuple[ExpiryWarning, ...]:
    window = timedelta(days=warn_days)
    return tuple(
        ExpiryWarning(c.subject, c.not_after, _days_left(c.not_after - now))
        for depth, c in enumerate(info)
        if (depth == 0 or not c.self_signed) and c.not_after - now <= window
    )
