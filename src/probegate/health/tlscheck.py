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
 5. v2 (trusted roots, or the system store):
    a. every presented certificate is a CA → leaf-certificate-missing (there is no end-entity
       certificate at all; not the same as a leaf sent out of order). First, as such a chain may
       verify: OpenSSL then takes a CA for the server's certificate.
    b. the first certificate is a CA and a non-CA comes later → leaf-certificate-not-topmost, for
       the same reason before OpenSSL's verdict.
    c. the first certificate is self-signed and not a CA → intermediate-certificate-missing with
       `shape` self-signed-not-ca: the model's guide takes such a certificate for a leaf and looks
       for its issuer, whatever the roots; the message says what it really is. Its dates first.
    Only when OpenSSL failed:
    d. a path certificate outside its dates, else OpenSSL's not-yet-valid/expired codes (for what only
       OpenSSL saw, e.g. a system root) → backend-certificate-is-invalid. Before trust: the dates are
       the certificate's own fault, so an expired leaf is named even if its intermediate is missing.
    e. a certificate named as issuer whose key did not sign → certificate-verification-failed with
       `signature_failure`: a forgery or corruption is never reported as "missing" or "untrusted".
    f. the leaf's issuer is neither presented nor an anchor, and OpenSSL could not find it either
       (an issuer-not-found code at depth 0) → intermediate-certificate-missing, naming the issuer.
       A lone leaf's issuer may be an intermediate or an untrusted root: nothing presented tells
       them apart, and sending the issuer is the first fix either way.
    g. OpenSSL's code is about trust (issuer not found, self-signed) and the path ends:
       - at a self-signed root the server sent, which is no anchor →
         trusted-root-certificate-mismatch-root-presented (roots uploaded) or
         backend-server-certificate-invalid-ca (system store);
       - at an intermediate whose issuer is neither sent nor an anchor →
         trusted-root-certificate-mismatch (roots uploaded) or
         intermediate-certificate-not-signed-by-well-known-ca (system store);
       - at an uploaded certificate that is no root → trusted-root-certificate-mismatch.
    h. any other OpenSSL failure → certificate-verification-failed with its code, text and depth.
    Only when OpenSSL passed:
    i. the leaf's extended key usage excludes serverAuth → certificate-verification-failed with
       INVALID_PURPOSE: a TLS client asks OpenSSL for that check, a bare store context does not.
    j. an expected name is set and the leaf does not hold it → backend-certificate-invalid-common-name-cn.
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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import assert_never

from cryptography import x509

from probegate.config.effective import EffectiveProbe, TlsMode
from probegate.health.certinfo import (
    ISSUER_NOT_FOUND,
    OUT_OF_DATES,
    SELF_SIGNED_UNTRUSTED,
    UNSUITABLE_PURPOSE,
    CertificateInfo,
    ChainPath,
    PathEnd,
    SystemStore,
    Verifier,
    VerifyError,
    authority_key_id,
    build_path,
    default_system_store,
    describe,
    fingerprint,
    is_ca,
    is_self_signed,
    iso,
    key_usages,
    load_anchors,
    matches_name,
    openssl_text,
    parse,
    presented_names,
    serves_tls,
    shown,
    validity_at,
    verifier_for,
)
from probegate.health.codes import SELF_SIGNED_LEAF, Reason

__all__ = [  # some live in `certinfo`; callers import them all from here
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

Facts = dict[str, str]

_TRUST_CODES = ISSUER_NOT_FOUND | SELF_SIGNED_UNTRUSTED
_NONE = "none"
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


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    mode: TlsMode
    anchors: tuple[bytes, ...] = ()  # DER: trusted roots (v2) or authentication certificates (v1)
    anchor_names: tuple[str, ...] = ()  # their config names, for messages
    expected_name: str | None = None  # None: the name is not checked


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


@dataclass(frozen=True, slots=True)
class _Chain:
    """Everything the v2 rules look at, computed once per check."""

    certs: tuple[x509.Certificate, ...]
    policy: TrustPolicy
    now: datetime
    path: ChainPath
    failure: VerifyError | None


_Finding = tuple[Reason, Facts]
_Rule = Callable[[_Chain], _Finding | None]


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
) -> _Finding:
    """Rules 2-5 of the header (rule 1 is the caller's)."""
    if policy.mode in _UNVALIDATED:
        return Reason.SUCCESS, {}
    if policy.mode is TlsMode.NAME_ONLY and parsed[0] is not None:
        # validateCertChainAndExpiry false: no chain, trust or dates; the first certificate's
        # name is all that is checked (the server's certificate, as a TLS client reads it)
        return _name_finding(parsed[0], policy.expected_name) or (Reason.SUCCESS, {})
    if None in parsed:
        return Reason.CERTIFICATE_VERIFICATION_FAILED, _unreadable(parsed)
    certs = tuple(c for c in parsed if c is not None)
    match policy.mode:
        case TlsMode.AUTHENTICATION_CERTIFICATES:
            return _check_v1(certs[0], chain[0], policy)
        case TlsMode.TRUSTED_ROOTS:
            anchors = load_anchors(policy.anchors)
            return _check_v2(certs, policy, now, anchors, verifier_for(anchors))
        case TlsMode.SYSTEM_STORE:
            store = system_store or default_system_store()
            return _check_v2(certs, policy, now, (), store.verify)
        case TlsMode.NAME_ONLY:  # its first certificate was unreadable
            return Reason.CERTIFICATE_VERIFICATION_FAILED, _unreadable(parsed)
        case TlsMode.NONE | TlsMode.NOT_VALIDATED | TlsMode.INSECURE_SKIP_VERIFY:
            # NONE never has a chain to judge; the other two returned above.
            raise ValueError(f"no certificate check exists for TLS mode {policy.mode}")
        case _:
            assert_never(policy.mode)


def _check_v1(leaf: x509.Certificate, leaf_der: bytes, policy: TrustPolicy) -> _Finding:
    if leaf_der not in policy.anchors:
        return Reason.AUTHENTICATION_CERTIFICATE_MISMATCH, {
            "subject": shown(leaf.subject),
            "sha256": fingerprint(leaf),
            "configured": ", ".join(policy.anchor_names) or _NONE,
        }
    return _name_finding(leaf, policy.expected_name) or (Reason.SUCCESS, {})


def _check_v2(
    certs: tuple[x509.Certificate, ...],
    policy: TrustPolicy,
    now: datetime,
    anchors: tuple[x509.Certificate, ...],
    verify: Verifier,
) -> _Finding:
    chain = _Chain(certs, policy, now, build_path(certs, anchors), verify(certs, now))
    for rule in _V2_RULES:
        found = rule(chain)
        if found is not None:
            return found
    return Reason.SUCCESS, {}


# ------------------------------------------------------------------------------- v2 rules


def _leaf_missing(chain: _Chain) -> _Finding | None:
    if not all(is_ca(c) for c in chain.certs):
        return None
    return Reason.LEAF_MISSING, {"presented": "; ".join(shown(c.subject) for c in chain.certs)}


def _self_signed_leaf(chain: _Chain) -> _Finding | None:
    first = chain.certs[0]
    if is_ca(first) or not is_self_signed(first):
        return None
    dates = validity_at(first, chain.now)
    if dates is not None:
        return _dates_finding(first, 0, chain.now)
    key_id = authority_key_id(first)
    return Reason.INTERMEDIATE_MISSING, {
        "missing_issuer": shown(first.issuer),
        "missing_issuer_key_id": key_id.hex(":").upper() if key_id else "unknown",
        "shape": SELF_SIGNED_LEAF,
    }


def _leaf_not_topmost(chain: _Chain) -> _Finding | None:
    first, later = chain.certs[0], chain.certs[1:]
    leaf_depth = next((i for i, c in enumerate(later, 1) if not is_ca(c)), None)
    if not is_ca(first) or leaf_depth is None:
        return None
    return Reason.LEAF_NOT_TOPMOST, {
        "first_subject": shown(first.subject),
        "leaf_subject": shown(chain.certs[leaf_depth].subject),
        "leaf_depth": str(leaf_depth),
    }


def _out_of_dates(chain: _Chain) -> _Finding | None:
    if chain.failure is None:
        return None
    for depth, cert in enumerate(chain.path.certs):
        if validity_at(cert, chain.now) is not None:
            return _dates_finding(cert, depth, chain.now)
    if chain.failure.code in OUT_OF_DATES:
        return _dates_finding(chain.failure.certificate, chain.failure.depth, chain.now)
    return None


def _dates_finding(cert: x509.Certificate, depth: int, now: datetime) -> _Finding:
    return Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID, {
        "which": shown(cert.subject),
        "validity": validity_at(cert, now) or "outside its validity",
        "depth": str(depth),
        "not_before": iso(cert.not_valid_before_utc),
        "not_after": iso(cert.not_valid_after_utc),
        "now": iso(now),
    }


def _bad_signature(chain: _Chain) -> _Finding | None:
    path = chain.path
    if chain.failure is None or path.end is not PathEnd.BAD_SIGNATURE or path.rejected is None:
        return None
    top = path.certs[-1]
    return Reason.CERTIFICATE_VERIFICATION_FAILED, _openssl_facts(chain.failure) | {
        "signature_failure": f"the signature of {shown(top.subject)} was not made by the key of "
        f"{shown(path.rejected.subject)}, though it names that issuer"
    }


def _intermediate_missing(chain: _Chain) -> _Finding | None:
    failure, path = chain.failure, chain.path
    if failure is None or path.end is not PathEnd.ISSUER_MISSING or len(path.certs) != 1:
        return None
    if failure.code not in ISSUER_NOT_FOUND or failure.depth != 0:
        return None
    leaf = path.certs[0]
    key_id = authority_key_id(leaf)
    return Reason.INTERMEDIATE_MISSING, {
        "missing_issuer": shown(leaf.issuer),
        "missing_issuer_key_id": key_id.hex(":").upper() if key_id else "unknown",
    }


def _untrusted_root(chain: _Chain) -> _Finding | None:
    failure, path, ends_at = chain.failure, chain.path, _chain_root(chain.path)
    if failure is None or failure.code not in _TRUST_CODES or ends_at is None:
        return None
    uploaded = chain.policy.mode is TlsMode.TRUSTED_ROOTS
    roots = ", ".join(chain.policy.anchor_names) or _NONE
    if path.end is PathEnd.SELF_SIGNED:  # the server sent its root
        if uploaded:
            return Reason.TRUSTED_ROOT_MISMATCH_ROOT_PRESENTED, {
                "chain_root": ends_at,
                "roots": roots,
            }
        return Reason.CERTIFICATE_INVALID_CA, {"chain_root": ends_at}
    if uploaded:
        return Reason.TRUSTED_ROOT_MISMATCH, {"chain_root": ends_at, "roots": roots}
    top = path.certs[-1]
    return Reason.INTERMEDIATE_NOT_WELL_KNOWN, {
        "top_intermediate": shown(top.subject),
        "missing_issuer": ends_at,
        "chain_root": ends_at,
    }


def _chain_root(path: ChainPath) -> str | None:
    """The root the path ends at, or needs next; None when a signature broke it."""
    top = path.certs[-1]
    if path.end is PathEnd.SELF_SIGNED:
        return shown(top.subject)
    # An uploaded certificate that is not self-signed (an intermediate, even the leaf) is no root:
    # OpenSSL still asks for its issuer, so that issuer is the root the operator must upload.
    if path.end is PathEnd.ISSUER_MISSING or (
        path.end is PathEnd.ANCHOR and not is_self_signed(top)
    ):
        return shown(top.issuer)
    return None


def _other_failure(chain: _Chain) -> _Finding | None:
    if chain.failure is None:
        return None
    return Reason.CERTIFICATE_VERIFICATION_FAILED, _openssl_facts(chain.failure)


def _wrong_purpose(chain: _Chain) -> _Finding | None:
    leaf = chain.certs[0]
    if serves_tls(leaf):
        return None
    return Reason.CERTIFICATE_VERIFICATION_FAILED, {
        "openssl_code": str(UNSUITABLE_PURPOSE),
        "openssl_error": openssl_text(UNSUITABLE_PURPOSE),
        "depth": "0",
        "failed_subject": shown(leaf.subject),
        "extended_key_usage": key_usages(leaf),
    }


def _wrong_name(chain: _Chain) -> _Finding | None:
    return _name_finding(chain.certs[0], chain.policy.expected_name)


_V2_RULES: tuple[_Rule, ...] = (
    _leaf_missing,  # 5a
    _leaf_not_topmost,  # 5b
    _self_signed_leaf,  # 5c
    _out_of_dates,  # 5d   (5d-5h: OpenSSL failed)
    _bad_signature,  # 5e
    _intermediate_missing,  # 5f
    _untrusted_root,  # 5g
    _other_failure,  # 5h
    _wrong_purpose,  # 5i   (5i-5j: OpenSSL passed)
    _wrong_name,  # 5j
)


# ------------------------------------------------------------------------------ facts


def _name_finding(leaf: x509.Certificate, expected: str | None) -> _Finding | None:
    if expected is None or matches_name(leaf, expected):
        return None
    return Reason.NAME_MISMATCH, {"expected": expected, "presented": presented_names(leaf)}


def _openssl_facts(failure: VerifyError) -> Facts:
    return {
        "openssl_code": str(failure.code),
        "openssl_error": failure.text,
        "depth": str(failure.depth),
        "failed_subject": shown(failure.certificate.subject),
    }


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
        "openssl_code": _NONE,
        "openssl_error": "the server presented no certificate",
        "depth": _NONE,
    }


def _unreadable(parsed: Sequence[x509.Certificate | None]) -> Facts:
    depth = parsed.index(None)
    return {
        "openssl_code": _NONE,
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
