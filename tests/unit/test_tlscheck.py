"""The certificate verdict of a presented chain (SPEC sections 5 and 11, rows 10-16, 21, 22).

Rules of this module:
- every certificate is built here (`tests.certs`), every check gets `now` explicitly (the wall clock
  never matters), and the well-known CAs are a stand-in `SystemStore` holding one test root — only
  the smoke test of `SystemStore()` reads the host's CA files;
- expectations are literals in tables (subjects, dates, OpenSSL codes), never recomputed with the
  rules under test;
- every failing verdict must carry each fact its message and remedy name in `messages.py`.
"""

from __future__ import annotations

import hashlib
import string
from datetime import datetime, timedelta

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import given
from hypothesis import strategies as st
from OpenSSL._util import lib as openssl_binding

from probegate.config.effective import TlsMode
from probegate.health.certinfo import matches_name
from probegate.health.codes import CERTIFICATE_REASONS, Reason
from probegate.health.messages import SHAPES, TABLE
from probegate.health.tlscheck import (
    CertVerdict,
    ExpiryWarning,
    SystemStore,
    TrustPolicy,
    check_chain,
    default_system_store,
    describe_chain,
)
from tests.certs import DAY, NOW, YEAR, Issued, make, pki

NAME = "app.example.test"
A = pki("A")  # a private CA; its root is the one uploaded
B = pki("B")  # another private CA
W = pki("Well-known")  # stands in for a public CA: the only root of the stand-in system store
WELL_KNOWN = SystemStore(roots=[W.root.der])


def leaf(
    *sans: str,
    cn: str | None = NAME,
    not_before: datetime = NOW - YEAR,
    not_after: datetime = NOW + YEAR,
    forged_by: str | None = None,
    server_auth: bool = True,
) -> Issued:
    """A leaf under A's intermediate."""
    return make(
        cn,
        issuer=A.intermediate,
        sans=sans,
        not_before=not_before,
        not_after=not_after,
        forged_by=forged_by,
        server_auth=server_auth,
    )


SELF_SIGNED = make("self.example.test", sans=("self.example.test",))
EXPIRED = leaf(NAME, not_after=NOW - DAY)
NOT_YET_VALID = leaf(NAME, not_before=NOW + DAY)
SOON = leaf(NAME, not_after=NOW + 5 * DAY)
# Same names and keys as A's own, so only the dates differ.
EXPIRED_INTERMEDIATE = make("A Issuing CA 1", issuer=A.root, ca=True, not_after=NOW - DAY)
EXPIRED_ROOT = make("A Root CA", ca=True, not_after=NOW - DAY)
FORGED = leaf(NAME, forged_by="mallory")  # names A's intermediate (and its key id), other key
# An intermediate with A's intermediate's name but another key, and the leaf it really issued.
LOOKALIKE = make("A Issuing CA 1", issuer=A.root, ca=True, key_name="mallory")
IMPOSTOR = make(NAME, issuer=LOOKALIKE, sans=(NAME,))
CLIENT_ONLY = leaf(NAME, server_auth=False)
NOT_A_CA = make("A Issuing CA 2", issuer=A.root, ca=False)
EXPIRED_SELF_SIGNED = make(
    "self.example.test", sans=("self.example.test",), not_after=NOW - DAY, key_name="old self"
)
# The self-signed setup the model's docs recommend: a CA:TRUE root, and a leaf it issued.
SELF_SIGNED_CA = make("Self Root CA", ca=True)
SELF_SIGNED_CA_LEAF = make("self.example.test", issuer=SELF_SIGNED_CA, sans=("self.example.test",))
# Two intermediates under A's: leaf ← deep ← A's intermediate (← A's root, not sent).
DEEP_INTERMEDIATE = make("A Issuing CA 3", issuer=A.intermediate, ca=True)
DEEP_LEAF = make(NAME, issuer=DEEP_INTERMEDIATE, sans=(NAME,), key_name="deep leaf")
UNDER_NOT_A_CA = make(NAME, issuer=NOT_A_CA, sans=(NAME,))

ROOTS_A = TrustPolicy(TlsMode.TRUSTED_ROOTS, (A.root.der,), ("root-a",), NAME)
ROOTS_B = TrustPolicy(TlsMode.TRUSTED_ROOTS, (B.root.der,), ("root-b",), NAME)
EXPIRED_ROOTS = TrustPolicy(TlsMode.TRUSTED_ROOTS, (EXPIRED_ROOT.der,), ("old-root-a",), NAME)
SYSTEM = TrustPolicy(TlsMode.SYSTEM_STORE, expected_name=NAME)
SYSTEM_SELF = TrustPolicy(TlsMode.SYSTEM_STORE, expected_name="self.example.test")
ROOTS_B_SELF = TrustPolicy(TlsMode.TRUSTED_ROOTS, (B.root.der,), ("root-b",), "self.example.test")

LEAF = "CN=app.example.test,O=probegate tests"
A_INT = "CN=A Issuing CA 1,O=probegate tests"
A_ROOT = "CN=A Root CA,O=probegate tests"
W_INT = "CN=Well-known Issuing CA 1,O=probegate tests"
SELF = "CN=self.example.test,O=probegate tests"
BEFORE = "2030-05-17T09:30:00+00:00"  # NOW - 365 days: the default not_before
AFTER = "2032-05-16T09:30:00+00:00"  # NOW + 365 days: the default not_after
YESTERDAY = "2031-05-16T09:30:00+00:00"
TOMORROW = "2031-05-18T09:30:00+00:00"
AT = "2031-05-17T09:30:00+00:00"  # NOW

# OpenSSL 4 renumbered this one (24 before); the codes asserted as literals below did not move.
INVALID_CA = str(openssl_binding.X509_V_ERR_INVALID_CA)

# Facts `evaluate` adds to every result; the rest of a message's facts must come from the verdict.
EVALUATE_FACTS = {"address", "url", "server", "path", "host"}


def check(chain: tuple[bytes, ...], policy: TrustPolicy, warn_days: int = 14) -> CertVerdict:
    return check_chain(chain, policy, NOW, warn_days=warn_days, system_store=WELL_KNOWN)


def assert_verdict(verdict: CertVerdict, reason: Reason, facts: dict[str, str]) -> None:
    assert verdict.reason is reason, verdict.facts
    assert {key: verdict.facts.get(key) for key in facts} == facts
    assert {"subject", "issuer", "not_before", "not_after"} <= verdict.facts.keys()
    if reason is not Reason.SUCCESS:
        assert reason in CERTIFICATE_REASONS
        assert verdict.expiring == ()
        shape = verdict.facts.get("shape")
        assert _template_facts(reason, shape) - EVALUATE_FACTS <= verdict.facts.keys()


def _template_facts(reason: Reason, shape: str | None = None) -> set[str]:
    entry = SHAPES[reason, shape] if shape else TABLE[reason]
    texts = (entry.message.en, entry.message.ko, entry.remedy.en, entry.remedy.ko)
    return {field for text in texts for _, field, _, _ in string.Formatter().parse(text) if field}


# ------------------------------------------------------------------------------ v2 chains

V2_CASES = [
    # --- row 16: a valid chain to the uploaded root, right name
    pytest.param(
        A.full,
        ROOTS_A,
        Reason.SUCCESS,
        {"subject": LEAF, "issuer": A_INT, "not_before": BEFORE, "not_after": AFTER},
        id="row16-valid-chain-to-uploaded-root",
    ),
    pytest.param(
        (*A.full, A.root.der), ROOTS_A, Reason.SUCCESS, {}, id="valid-chain-root-sent-too"
    ),
    pytest.param(W.full, SYSTEM, Reason.SUCCESS, {"issuer": W_INT}, id="valid-chain-well-known-ca"),
    pytest.param(
        A.full,
        TrustPolicy(TlsMode.TRUSTED_ROOTS, (A.root.der,), ("root-a",), None),
        Reason.SUCCESS,
        {},
        id="no-expected-name-no-name-check",
    ),
    # --- row 10: a self-signed certificate that is not a CA: a leaf whose issuer is missing,
    # whatever the roots (the model's current guide), said to be self-signed
    pytest.param(
        (SELF_SIGNED.der,),
        SYSTEM_SELF,
        Reason.INTERMEDIATE_MISSING,
        {"subject": SELF, "issuer": SELF, "missing_issuer": SELF, "shape": "self-signed-not-ca"},
        id="row10-self-signed-leaf-system-store",
    ),
    pytest.param(
        (SELF_SIGNED.der,),
        ROOTS_B_SELF,
        Reason.INTERMEDIATE_MISSING,
        {"missing_issuer": SELF, "shape": "self-signed-not-ca"},
        id="self-signed-leaf-other-root-uploaded",
    ),
    pytest.param(
        (SELF_SIGNED.der,),
        TrustPolicy(TlsMode.TRUSTED_ROOTS, (SELF_SIGNED.der,), ("self",), "self.example.test"),
        Reason.INTERMEDIATE_MISSING,
        {"shape": "self-signed-not-ca"},
        id="self-signed-leaf-uploaded-as-its-own-root",
    ),
    pytest.param(
        (EXPIRED_SELF_SIGNED.der,),
        SYSTEM_SELF,
        Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID,
        {"which": SELF, "validity": "expired", "depth": "0"},
        id="self-signed-leaf-expired-dates-first",
    ),
    # --- no trusted roots: the backend presents its root, which is not well known
    pytest.param(
        (*A.full, A.root.der),
        SYSTEM,
        Reason.CERTIFICATE_INVALID_CA,
        {"issuer": A_INT, "chain_root": A_ROOT},
        id="private-ca-root-presented-system-store",
    ),
    pytest.param(
        (SELF_SIGNED_CA_LEAF.der, SELF_SIGNED_CA.der),
        SYSTEM_SELF,
        Reason.CERTIFICATE_INVALID_CA,
        {"chain_root": "CN=Self Root CA,O=probegate tests"},
        id="proper-self-signed-chain-system-store",
    ),
    # --- no trusted roots: intermediates but no root, the top one's issuer unknown
    pytest.param(
        A.full,
        SYSTEM,
        Reason.INTERMEDIATE_NOT_WELL_KNOWN,
        {"issuer": A_INT, "top_intermediate": A_INT, "missing_issuer": A_ROOT},
        id="private-ca-no-root-system-store",
    ),
    pytest.param(
        (DEEP_LEAF.der, DEEP_INTERMEDIATE.der, A.intermediate.der),
        SYSTEM,
        Reason.INTERMEDIATE_NOT_WELL_KNOWN,
        {"top_intermediate": A_INT, "missing_issuer": A_ROOT},
        id="two-intermediates-no-root-system-store",
    ),
    # --- no end-entity certificate at all
    pytest.param(
        (A.intermediate.der,),
        ROOTS_A,
        Reason.LEAF_MISSING,
        {"presented": A_INT, "subject": A_INT},
        id="intermediate-alone",
    ),
    pytest.param(
        (A.intermediate.der, A.root.der),
        ROOTS_A,
        Reason.LEAF_MISSING,
        {"presented": f"{A_INT}; {A_ROOT}"},
        id="intermediate-and-root-no-leaf",
    ),
    pytest.param(
        (A.root.der,),
        ROOTS_A,
        Reason.LEAF_MISSING,
        {"presented": A_ROOT},
        id="the-trusted-root-alone-verifies-but-is-no-leaf",
    ),
    pytest.param(
        (SELF_SIGNED_CA.der,),
        SYSTEM_SELF,
        Reason.LEAF_MISSING,
        {"presented": "CN=Self Root CA,O=probegate tests"},
        id="self-signed-ca-alone",
    ),
    # --- row 11: private CA, a different root uploaded
    pytest.param(
        A.full,
        ROOTS_B,
        Reason.TRUSTED_ROOT_MISMATCH,
        {"chain_root": A_ROOT, "roots": "root-b"},
        id="row11-private-ca-other-root-uploaded",
    ),
    # --- trusted roots uploaded: the backend presents a root that is none of them
    pytest.param(
        (*A.full, A.root.der),
        ROOTS_B,
        Reason.TRUSTED_ROOT_MISMATCH_ROOT_PRESENTED,
        {"chain_root": A_ROOT, "roots": "root-b"},
        id="own-root-sent-other-root-uploaded",
    ),
    pytest.param(
        (SELF_SIGNED_CA_LEAF.der, SELF_SIGNED_CA.der),
        ROOTS_B_SELF,
        Reason.TRUSTED_ROOT_MISMATCH_ROOT_PRESENTED,
        {"chain_root": "CN=Self Root CA,O=probegate tests", "roots": "root-b"},
        id="proper-self-signed-chain-other-root-uploaded",
    ),
    pytest.param(
        A.full,
        TrustPolicy(TlsMode.TRUSTED_ROOTS, (A.intermediate.der,), ("int-a",), NAME),
        Reason.TRUSTED_ROOT_MISMATCH,
        {"chain_root": A_ROOT, "roots": "int-a"},
        id="intermediate-uploaded-instead-of-root",
    ),
    pytest.param(
        (A.leaf.der,),
        TrustPolicy(TlsMode.TRUSTED_ROOTS, (A.leaf.der,), ("leaf-a",), NAME),
        Reason.TRUSTED_ROOT_MISMATCH,
        {"chain_root": A_INT, "roots": "leaf-a"},
        id="leaf-uploaded-instead-of-root",
    ),
    # --- row 12: leaf issued by an intermediate, server sends the leaf only
    pytest.param(
        (A.leaf.der,),
        ROOTS_A,
        Reason.INTERMEDIATE_MISSING,
        {"subject": LEAF, "missing_issuer": A_INT},
        id="row12-leaf-only-root-uploaded",
    ),
    pytest.param(
        (W.leaf.der,),
        SYSTEM,
        Reason.INTERMEDIATE_MISSING,
        {"missing_issuer": W_INT},
        id="row12-leaf-only-well-known-ca",
    ),
    pytest.param(
        (A.leaf.der, B.intermediate.der),
        ROOTS_A,
        Reason.INTERMEDIATE_MISSING,
        {"missing_issuer": A_INT},
        id="leaf-with-an-unrelated-intermediate",
    ),
    # --- row 13: chain sent intermediate first
    pytest.param(
        (A.intermediate.der, A.leaf.der),
        ROOTS_A,
        Reason.LEAF_NOT_TOPMOST,
        {"first_subject": A_INT, "leaf_subject": LEAF, "leaf_depth": "1", "subject": LEAF},
        id="row13-intermediate-first",
    ),
    pytest.param(
        (A.root.der, A.intermediate.der, A.leaf.der),
        ROOTS_A,
        Reason.LEAF_NOT_TOPMOST,
        {"first_subject": A_ROOT, "leaf_subject": LEAF, "leaf_depth": "2"},
        id="row13-complete-set-reversed",
    ),
    # --- row 14: valid chain, SAN for another name
    pytest.param(
        A.full,
        TrustPolicy(TlsMode.TRUSTED_ROOTS, (A.root.der,), ("root-a",), "other.example.test"),
        Reason.NAME_MISMATCH,
        {"expected": "other.example.test", "presented": "DNS:app.example.test"},
        id="row14-san-for-another-name",
    ),
    # --- row 15: expired / not-yet-valid leaf, and the other members of the path
    pytest.param(
        (EXPIRED.der, A.intermediate.der),
        ROOTS_A,
        Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID,
        {
            "which": LEAF,
            "validity": "expired",
            "depth": "0",
            "not_before": BEFORE,
            "not_after": YESTERDAY,
            "now": AT,
        },
        id="row15-expired-leaf",
    ),
    pytest.param(
        (NOT_YET_VALID.der, A.intermediate.der),
        ROOTS_A,
        Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID,
        {"which": LEAF, "validity": "not yet valid", "not_before": TOMORROW, "not_after": AFTER},
        id="row15-not-yet-valid-leaf",
    ),
    pytest.param(
        (A.leaf.der, EXPIRED_INTERMEDIATE.der),
        ROOTS_A,
        Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID,
        {"which": A_INT, "validity": "expired", "depth": "1", "not_after": YESTERDAY},
        id="expired-intermediate",
    ),
    pytest.param(
        A.full,
        EXPIRED_ROOTS,
        Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID,
        {"which": A_ROOT, "validity": "expired", "depth": "2", "not_after": YESTERDAY},
        id="expired-uploaded-root",
    ),
    pytest.param(
        (EXPIRED.der,),
        ROOTS_A,
        Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID,
        {"which": LEAF, "validity": "expired"},
        id="expired-leaf-and-intermediate-missing-dates-first",
    ),
    # --- everything else OpenSSL refuses: its code, text and depth
    pytest.param(
        (FORGED.der, A.intermediate.der),
        ROOTS_A,
        Reason.CERTIFICATE_VERIFICATION_FAILED,
        {
            "openssl_code": "7",
            "openssl_error": "certificate signature failure",
            "depth": "0",
            "failed_subject": LEAF,
            "signature_failure": f"the signature of {LEAF} was not made by the key of {A_INT}, "
            "though it names that issuer",
        },
        id="leaf-signed-by-the-wrong-key",
    ),
    pytest.param(
        (IMPOSTOR.der, A.intermediate.der),
        ROOTS_A,
        Reason.INTERMEDIATE_MISSING,
        {"missing_issuer": A_INT},
        id="same-name-intermediate-with-another-key",
    ),
    pytest.param(
        (UNDER_NOT_A_CA.der, NOT_A_CA.der),
        ROOTS_A,
        Reason.CERTIFICATE_VERIFICATION_FAILED,
        {
            "openssl_code": INVALID_CA,
            "depth": "1",
            "failed_subject": "CN=A Issuing CA 2,O=probegate tests",
        },
        id="issuer-without-ca-flag",
    ),
    pytest.param(
        (CLIENT_ONLY.der, A.intermediate.der),
        ROOTS_A,
        Reason.CERTIFICATE_VERIFICATION_FAILED,
        {
            "openssl_code": "26",
            "openssl_error": "unsuitable certificate purpose",
            "depth": "0",
            "extended_key_usage": "clientAuth",
        },
        id="leaf-for-client-auth-only",
    ),
    pytest.param(
        (),
        ROOTS_A,
        Reason.CERTIFICATE_VERIFICATION_FAILED,
        {"openssl_code": "none", "openssl_error": "the server presented no certificate"},
        id="empty-chain",
    ),
    pytest.param(
        (A.leaf.der, b"\x30\x03\x02\x01\x00"),
        ROOTS_A,
        Reason.CERTIFICATE_VERIFICATION_FAILED,
        {"subject": LEAF, "openssl_code": "none", "depth": "1"},
        id="unreadable-intermediate",
    ),
]


@pytest.mark.parametrize(("chain", "policy", "reason", "facts"), V2_CASES)
def test_v2_chain(
    chain: tuple[bytes, ...], policy: TrustPolicy, reason: Reason, facts: dict[str, str]
) -> None:
    assert_verdict(check(chain, policy), reason, facts)


def test_missing_issuer_names_its_key_id() -> None:
    """A same-name intermediate with another key is told apart by the key id the leaf asks for."""
    facts = check((IMPOSTOR.der, A.intermediate.der), ROOTS_A).facts
    assert (
        facts["missing_issuer_key_id"]
        != check((A.leaf.der,), ROOTS_A).facts["missing_issuer_key_id"]
    )


def test_chain_is_described_as_presented_even_on_failure() -> None:
    verdict = check((A.intermediate.der, A.leaf.der), ROOTS_A)
    assert [c.subject for c in verdict.chain] == [A_INT, LEAF]


# ---------------------------------------------------------------------------- dates, exactly


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        pytest.param(timedelta(0), Reason.SUCCESS, id="at-not-after"),
        pytest.param(timedelta(microseconds=999_999), Reason.SUCCESS, id="within-the-last-second"),
        pytest.param(
            timedelta(seconds=1), Reason.CERTIFICATE_EXPIRED_OR_NOT_YET_VALID, id="a-second-after"
        ),
    ],
)
def test_validity_ends_inclusively_at_whole_seconds(offset: timedelta, reason: Reason) -> None:
    """OpenSSL and the structure judge the same instant: neither may call it while the other passes."""
    verdict = check_chain(A.full, ROOTS_A, NOW + YEAR + offset)
    assert verdict.reason is reason


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        check_chain(A.full, ROOTS_A, NOW.replace(tzinfo=None))


# -------------------------------------------------------------------------- expiry warnings


@pytest.mark.parametrize(
    ("chain", "warn_days", "expiring"),
    [
        pytest.param(
            (SOON.der, A.intermediate.der),
            14,
            (ExpiryWarning(LEAF, NOW + 5 * DAY, 5),),
            id="row22-leaf-expiring-in-5-days",
        ),
        pytest.param((SOON.der, A.intermediate.der), 4, (), id="outside-a-shorter-window"),
        pytest.param(A.full, 14, (), id="a-year-left"),
        pytest.param(
            (A.leaf.der, A.intermediate.der),
            366,
            (ExpiryWarning(LEAF, NOW + YEAR, 365), ExpiryWarning(A_INT, NOW + YEAR, 365)),
            id="leaf-and-intermediate",
        ),
        pytest.param(
            (*A.full, A.root.der),
            366,
            (ExpiryWarning(LEAF, NOW + YEAR, 365), ExpiryWarning(A_INT, NOW + YEAR, 365)),
            id="a-root-sent-along-is-not-warned-about",
        ),
    ],
)
def test_expiry_warnings(
    chain: tuple[bytes, ...], warn_days: int, expiring: tuple[ExpiryWarning, ...]
) -> None:
    verdict = check(chain, ROOTS_A, warn_days=warn_days)
    assert verdict.reason is Reason.SUCCESS
    assert verdict.expiring == expiring


def test_days_left_round_up() -> None:
    """4 days and 23 hours left reads "5 days": a warning should not understate the time left."""
    verdict = check_chain((SOON.der, A.intermediate.der), ROOTS_A, NOW + timedelta(hours=1))
    assert [w.days_left for w in verdict.expiring] == [5]


# ------------------------------------------------------------------------------------ names

WILDCARD = leaf("*.example.test")
IPS = leaf("127.1.2.3", "2001:db8::1")
CN_ONLY = leaf(cn="cn.example.test")
CN_IP = leaf(cn="127.9.8.7")
SAN_AND_CN = leaf("san.example.test", cn="cn.example.test")
NO_NAMES = leaf(cn=None)
IDN = leaf("xn--bcher-kva.example.test")


@pytest.mark.parametrize(
    ("cert", "expected", "presented"),
    [
        pytest.param(A.leaf, "APP.Example.Test.", None, id="case-and-trailing-dot"),
        pytest.param(WILDCARD, "a.example.test", None, id="wildcard-one-label"),
        pytest.param(WILDCARD, "a.b.example.test", "DNS:*.example.test", id="wildcard-not-two"),
        pytest.param(WILDCARD, "example.test", "DNS:*.example.test", id="wildcard-not-zero"),
        pytest.param(leaf("*"), "localhost", "DNS:*", id="bare-wildcard"),
        pytest.param(leaf("*.test"), "example.test", "DNS:*.test", id="wildcard-over-a-tld"),
        pytest.param(
            leaf("a*.example.test"), "ab.example.test", "DNS:a*.example.test", id="partial-label"
        ),
        pytest.param(
            leaf("app.*.test"), "app.example.test", "DNS:app.*.test", id="wildcard-not-leftmost"
        ),
        pytest.param(IPS, "127.1.2.3", None, id="ip-san"),
        pytest.param(IPS, "2001:DB8:0::1", None, id="ipv6-san-any-spelling"),
        pytest.param(IPS, "127.1.2.4", "IP:127.1.2.3, IP:2001:db8::1", id="other-ip"),
        pytest.param(A.leaf, "127.1.2.3", "DNS:app.example.test", id="ip-against-dns-only-san"),
        pytest.param(CN_ONLY, "cn.example.test", None, id="cn-when-no-san"),
        pytest.param(
            CN_ONLY, "other.example.test", "CN=cn.example.test (no SAN)", id="cn-mismatch"
        ),
        pytest.param(CN_IP, "127.9.8.7", None, id="cn-ip-when-no-san"),
        pytest.param(
            SAN_AND_CN, "cn.example.test", "DNS:san.example.test", id="cn-ignored-beside-san"
        ),
        pytest.param(
            NO_NAMES, NAME, "no name at all (neither SAN nor CN)", id="neither-san-nor-cn"
        ),
        pytest.param(IDN, "bücher.example.test", None, id="idn-u-label"),
    ],
)
def test_name(cert: Issued, expected: str, presented: str | None) -> None:
    policy = TrustPolicy(TlsMode.TRUSTED_ROOTS, (A.root.der,), ("root-a",), expected)
    verdict = check((cert.der, A.intermediate.der), policy)
    if presented is None:
        assert_verdict(verdict, Reason.SUCCESS, {})
    else:
        assert_verdict(
            verdict, Reason.NAME_MISMATCH, {"expected": expected, "presented": presented}
        )


LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(LABEL, LABEL)
def test_wildcard_stands_for_exactly_one_label(first: str, second: str) -> None:
    assert matches_name(WILDCARD.cert, f"{first}.example.test")
    assert matches_name(WILDCARD.cert, f"{first.upper()}.EXAMPLE.test")
    assert not matches_name(WILDCARD.cert, f"{first}.{second}.example.test")
    assert not matches_name(WILDCARD.cert, f"{first}.example.test.{second}")


# -------------------------------------------------------------------------- order, property

PIECES = {"leaf": A.leaf, "intermediate": A.intermediate, "root": A.root}


@given(st.lists(st.sampled_from(sorted(PIECES)), min_size=1, max_size=5))
def test_any_presented_order_succeeds_only_with_the_leaf_first(order: list[str]) -> None:
    verdict = check(tuple(PIECES[piece].der for piece in order), ROOTS_A)
    if order[0] == "leaf":
        expected = Reason.SUCCESS if "intermediate" in order else Reason.INTERMEDIATE_MISSING
    elif "leaf" in order:
        expected = Reason.LEAF_NOT_TOPMOST
    else:  # only CAs, which OpenSSL may even accept: the server sent no leaf at all
        expected = Reason.LEAF_MISSING
    assert verdict.reason is expected


# ------------------------------------------------------------------------- v1 and unvalidated

V1_AUTH = TrustPolicy(
    TlsMode.AUTHENTICATION_CERTIFICATES, (B.leaf.der, A.leaf.der), ("auth-b", "auth-a"), NAME
)


@pytest.mark.parametrize(
    ("chain", "policy", "reason", "facts"),
    [
        pytest.param((A.leaf.der,), V1_AUTH, Reason.SUCCESS, {}, id="row21-exact-match"),
        pytest.param(
            (A.leaf.der, B.intermediate.der, SELF_SIGNED.der),
            V1_AUTH,
            Reason.SUCCESS,
            {},
            id="exact-match-no-chain-building",
        ),
        pytest.param(
            (SELF_SIGNED.der,),
            TrustPolicy(TlsMode.AUTHENTICATION_CERTIFICATES, (SELF_SIGNED.der,), ("self",), None),
            Reason.SUCCESS,
            {},
            id="self-signed-exact-match-ip-member",
        ),
        pytest.param(
            (W.leaf.der, W.intermediate.der),
            V1_AUTH,
            Reason.AUTHENTICATION_CERTIFICATE_MISMATCH,
            {"subject": LEAF, "configured": "auth-b, auth-a"},
            id="row21-leaf-differs",
        ),
        pytest.param(
            (A.intermediate.der, A.leaf.der),
            V1_AUTH,
            Reason.AUTHENTICATION_CERTIFICATE_MISMATCH,
            {"subject": A_INT},
            id="only-the-first-certificate-counts",
        ),
        pytest.param(
            (A.leaf.der,),
            TrustPolicy(
                TlsMode.AUTHENTICATION_CERTIFICATES, (A.leaf.der,), ("auth-a",), "b.example.test"
            ),
            Reason.NAME_MISMATCH,
            {"expected": "b.example.test", "presented": "DNS:app.example.test"},
            id="exact-match-wrong-fqdn",
        ),
    ],
)
def test_v1(
    chain: tuple[bytes, ...], policy: TrustPolicy, reason: Reason, facts: dict[str, str]
) -> None:
    assert_verdict(check(chain, policy), reason, facts)


def test_v1_mismatch_names_the_fingerprint() -> None:
    verdict = check((W.leaf.der,), V1_AUTH)
    digest = hashlib.sha256(W.leaf.der).hexdigest().upper()
    assert verdict.facts["sha256"].replace(":", "") == digest


@pytest.mark.parametrize("mode", [TlsMode.NOT_VALIDATED, TlsMode.INSECURE_SKIP_VERIFY])
@pytest.mark.parametrize(
    "chain",
    [
        pytest.param((EXPIRED.der,), id="expired-leaf-only"),
        pytest.param((A.intermediate.der, FORGED.der), id="misordered-forged"),
        pytest.param((SELF_SIGNED.der, b"junk"), id="self-signed-and-unreadable"),
    ],
)
def test_unvalidated_modes_pass_any_chain(mode: TlsMode, chain: tuple[bytes, ...]) -> None:
    verdict = check(chain, TrustPolicy(mode, expected_name="nothing.example.test"))
    assert verdict.reason is Reason.SUCCESS
    assert len(verdict.chain) == len([der for der in chain if der != b"junk"])


def test_unvalidated_still_warns_about_an_expired_leaf() -> None:
    verdict = check((EXPIRED.der,), TrustPolicy(TlsMode.NOT_VALIDATED))
    assert verdict.expiring == (ExpiryWarning(LEAF, NOW - DAY, -1),)


def test_no_tls_has_no_certificate_check() -> None:
    with pytest.raises(ValueError, match="none"):
        check(A.full, TrustPolicy(TlsMode.NONE))


# ------------------------------------------------------------------------- describing, stores


def test_describe_chain() -> None:
    leaf_info, intermediate_info = describe_chain(A.full)
    assert (leaf_info.subject, leaf_info.issuer, leaf_info.sans) == (LEAF, A_INT, (NAME,))
    assert (leaf_info.not_before, leaf_info.not_after) == (NOW - YEAR, NOW + YEAR)
    assert (leaf_info.is_ca, leaf_info.self_signed) == (False, False)
    assert (intermediate_info.is_ca, intermediate_info.self_signed) == (True, False)
    assert leaf_info.sha256 == ":".join(f"{b:02X}" for b in hashlib.sha256(A.leaf.der).digest())
    assert describe_chain((A.root.der,))[0].self_signed
    assert describe_chain((IPS.der,))[0].sans == ("127.1.2.3", "2001:db8::1")


def test_the_platform_store_does_not_know_a_test_ca() -> None:
    """Smoke test of the one path that reads the host's CA files (built once, then reused)."""
    store = default_system_store()
    assert default_system_store() is store
    verdict = check_chain((*A.full, A.root.der), SYSTEM, NOW, system_store=store)
    assert verdict.reason is Reason.CERTIFICATE_INVALID_CA


# ---------------------------------------------------------------- certificates from trustme


def _trustme_chain(cert: trustme.LeafCert) -> tuple[bytes, ...]:
    return tuple(
        x509.load_pem_x509_certificate(pem.bytes()).public_bytes(Encoding.DER)
        for pem in cert.cert_chain_pems
    )


def _trustme_root(ca: trustme.CA) -> bytes:
    return x509.load_pem_x509_certificate(ca.cert_pem.bytes()).public_bytes(Encoding.DER)


def test_trustme_chains_as_the_integration_tests_build_them() -> None:
    """trustme marks its SAN critical and dates from the wall clock: `now` is taken from the leaf."""
    root = trustme.CA()
    issued = root.create_child_ca().issue_cert("localhost", "127.0.0.1")
    chain = _trustme_chain(issued)
    now = describe_chain(chain)[0].not_before + timedelta(hours=1)
    for name in ("localhost", "127.0.0.1"):
        policy = TrustPolicy(TlsMode.TRUSTED_ROOTS, (_trustme_root(root),), ("root",), name)
        assert check_chain(chain, policy, now).reason is Reason.SUCCESS
        assert check_chain(chain[:1], policy, now).reason is Reason.INTERMEDIATE_MISSING


def test_lone_leaf_of_an_untrusted_root_reads_as_a_missing_issuer() -> None:
    """A known ambiguity, pinned: a leaf sent alone whose issuer is an untrusted ROOT looks exactly
    like one whose issuer is an unsent intermediate. To get a trusted-root verdict the server must
    send more than the leaf (its intermediate, or its own root)."""
    other = trustme.CA()
    chain = _trustme_chain(other.issue_cert("localhost"))
    now = describe_chain(chain)[0].not_before + timedelta(hours=1)
    policy = TrustPolicy(TlsMode.TRUSTED_ROOTS, (A.root.der,), ("root-a",), "localhost")
    verdict = check_chain(chain, policy, now)
    assert verdict.reason is Reason.INTERMEDIATE_MISSING
    assert verdict.facts["missing_issuer"] == describe_chain(chain)[0].issuer
    with_root = (*chain, _trustme_root(other))
    assert check_chain(with_root, policy, now).reason is Reason.TRUSTED_ROOT_MISMATCH_ROOT_PRESENTED


# ------------------------------------------- validateCertChainAndExpiry false: the name only

NAME_ONLY = TrustPolicy(TlsMode.NAME_ONLY, expected_name=NAME)


@pytest.mark.parametrize(
    ("chain", "policy", "reason"),
    [
        pytest.param((EXPIRED.der,), NAME_ONLY, Reason.SUCCESS, id="expired-leaf-alone-passes"),
        pytest.param((A.leaf.der,), NAME_ONLY, Reason.SUCCESS, id="missing-intermediate-passes"),
        pytest.param(
            (W.leaf.der, W.intermediate.der, A.root.der), NAME_ONLY, Reason.SUCCESS, id="any-root"
        ),
        pytest.param(
            (SELF_SIGNED.der,),
            TrustPolicy(TlsMode.NAME_ONLY, expected_name="self.example.test"),
            Reason.SUCCESS,
            id="self-signed-non-ca-passes",
        ),
        pytest.param(
            (SELF_SIGNED.der,), NAME_ONLY, Reason.NAME_MISMATCH, id="the-name-is-still-checked"
        ),
        pytest.param(
            (SELF_SIGNED.der,),
            TrustPolicy(TlsMode.NAME_ONLY, expected_name=None),
            Reason.SUCCESS,
            id="no-server-name-nothing-to-check",
        ),
        pytest.param(
            (b"junk", A.intermediate.der),
            NAME_ONLY,
            Reason.CERTIFICATE_VERIFICATION_FAILED,
            id="an-unreadable-first-certificate-has-no-name",
        ),
    ],
)
def test_name_only(chain: tuple[bytes, ...], policy: TrustPolicy, reason: Reason) -> None:
    assert check(chain, policy).reason is reason
