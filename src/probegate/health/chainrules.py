"""The v2 certificate rules (trusted roots, or the system store), in order: a chain's shape first,
then what explains OpenSSL's failure, then what OpenSSL leaves unchecked (rule 5 of `tlscheck`).

Rules of this module:
- pure: no sockets, no asyncio, no wall clock; `check_v2` gets OpenSSL's verdict as a `Verifier`
  and the structure from `certinfo.build_path`, both computed once per check into a `_Chain`;
- a rule returns a finding or None ("not mine"); the first finding wins, so the order of `_V2_RULES`
  is the classification, as below;
- `tlscheck` owns the verdict (the leaf facts, the expiry warnings, v1 and the unvalidated modes);
  `TrustPolicy` lives here, as what the rules are given, and callers import it from `tlscheck`.

Classification, first match wins (5a-5j in `tlscheck`'s header; the fact keys are listed there):
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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509

from probegate.config.effective import TlsMode
from probegate.health.certinfo import (
    ISSUER_NOT_FOUND,
    OUT_OF_DATES,
    SELF_SIGNED_UNTRUSTED,
    UNSUITABLE_PURPOSE,
    ChainPath,
    PathEnd,
    Verifier,
    VerifyError,
    authority_key_id,
    build_path,
    is_ca,
    is_self_signed,
    iso,
    key_usages,
    matches_name,
    openssl_text,
    presented_names,
    serves_tls,
    shown,
    validity_at,
)
from probegate.health.codes import SELF_SIGNED_LEAF, Reason

Facts = dict[str, str]
Finding = tuple[Reason, Facts]

NONE = "none"
_TRUST_CODES = ISSUER_NOT_FOUND | SELF_SIGNED_UNTRUSTED


@dataclass(frozen=True, slots=True)
class TrustPolicy:
    mode: TlsMode
    anchors: tuple[bytes, ...] = ()  # DER: trusted roots (v2) or authentication certificates (v1)
    anchor_names: tuple[str, ...] = ()  # their config names, for messages
    expected_name: str | None = None  # None: the name is not checked


@dataclass(frozen=True, slots=True)
class _Chain:
    """Everything the v2 rules look at, computed once per check."""

    certs: tuple[x509.Certificate, ...]
    policy: TrustPolicy
    now: datetime
    path: ChainPath
    failure: VerifyError | None


_Rule = Callable[[_Chain], Finding | None]


def check_v2(
    certs: tuple[x509.Certificate, ...],
    policy: TrustPolicy,
    now: datetime,
    anchors: tuple[x509.Certificate, ...],
    verify: Verifier,
) -> Finding:
    chain = _Chain(certs, policy, now, build_path(certs, anchors), verify(certs, now))
    for rule in _V2_RULES:
        found = rule(chain)
        if found is not None:
            return found
    return Reason.SUCCESS, {}


# ------------------------------------------------------------------------------- v2 rules


def _leaf_missing(chain: _Chain) -> Finding | None:
    if not all(is_ca(c) for c in chain.certs):
        return None
    return Reason.LEAF_MISSING, {"presented": "; ".join(shown(c.subject) for c in chain.certs)}


def _self_signed_leaf(chain: _Chain) -> Finding | None:
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


def _leaf_not_topmost(chain: _Chain) -> Finding | None:
    first, later = chain.certs[0], chain.certs[1:]
    leaf_depth = next((i for i, c in enumerate(later, 1) if not is_ca(c)), None)
    if not is_ca(first) or leaf_depth is None:
        return None
    return Reason.LEAF_NOT_TOPMOST, {
        "first_subject": shown(first.subject),
        "leaf_subject": shown(chain.certs[leaf_depth].subject),
        "leaf_depth": str(leaf_depth),
    }


def _out_of_dates(chain: _Chain) -> Finding | None:
    if chain.failure is None:
        return None
    for depth, cert in enumerate(chain.path.certs):
        if validity_at(cert, chain.now) is not None:
            return _dates_finding(cert, depth, chain.now)
    if chain.failure.code in OUT_OF_DATES:
        return _dates_finding(chain.failure.certificate, chain.failure.depth, chain.now)
    return None


def _dates_finding(cert: x509.Certificate, depth: int, now: datetime) -> Finding:
    return Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID, {
        "which": shown(cert.subject),
        "validity": validity_at(cert, now) or "outside its validity",
        "depth": str(depth),
        "not_before": iso(cert.not_valid_before_utc),
        "not_after": iso(cert.not_valid_after_utc),
        "now": iso(now),
    }


def _bad_signature(chain: _Chain) -> Finding | None:
    path = chain.path
    if chain.failure is None or path.end is not PathEnd.BAD_SIGNATURE or path.rejected is None:
        return None
    top = path.certs[-1]
    return Reason.CERTIFICATE_VERIFICATION_FAILED, _openssl_facts(chain.failure) | {
        "signature_failure": f"the signature of {shown(top.subject)} was not made by the key of "
        f"{shown(path.rejected.subject)}, though it names that issuer"
    }


def _intermediate_missing(chain: _Chain) -> Finding | None:
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


def _untrusted_root(chain: _Chain) -> Finding | None:
    failure, path, ends_at = chain.failure, chain.path, _chain_root(chain.path)
    if failure is None or failure.code not in _TRUST_CODES or ends_at is None:
        return None
    uploaded = chain.policy.mode is TlsMode.TRUSTED_ROOTS
    roots = ", ".join(chain.policy.anchor_names) or NONE
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


def _other_failure(chain: _Chain) -> Finding | None:
    if chain.failure is None:
        return None
    return Reason.CERTIFICATE_VERIFICATION_FAILED, _openssl_facts(chain.failure)


def _wrong_purpose(chain: _Chain) -> Finding | None:
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


def _wrong_name(chain: _Chain) -> Finding | None:
    return name_finding(chain.certs[0], chain.policy.expected_name)


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


def name_finding(leaf: x509.Certificate, expected: str | None) -> Finding | None:
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
