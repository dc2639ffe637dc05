"""How a presented chain reads: what `cryptography` sees in each certificate, what OpenSSL says of
the whole, and the issuer path between them. Evidence only — `tlscheck` turns it into a reason.

Rules of this module:
- no sockets, no wall clock; the only outside read is the platform's CA files, once, when a
  `SystemStore` is built;
- "issued by" follows OpenSSL's candidate test — the issuer name matches and the key identifiers do
  not contradict — and then checks the signature when `cryptography` can;
- names are matched like a TLS client (RFC 6125 as the CA/Browser Forum narrows it): SAN dNSName
  and iPAddress first, the subject CN only when the SAN holds neither; `*` only as the whole
  leftmost label, standing for exactly one label, and never over a single-label suffix; ASCII
  case-insensitive, a trailing dot ignored;
- validity is inclusive at both ends, as OpenSSL has it;
- OpenSSL's verdict is kept as its code number and depth (its text only for messages).
"""

from __future__ import annotations

import ipaddress
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from functools import cache, lru_cache
from typing import TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import crypto
from OpenSSL._util import lib as _openssl_lib
from OpenSSL._util import text as _openssl_string

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
E = TypeVar("E", bound=x509.ExtensionType)

EXPIRED = "expired"
NOT_YET_VALID = "not yet valid"


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """One presented certificate, for messages and `probegate diagnose`."""

    subject: str  # RFC 4514
    issuer: str
    sans: tuple[str, ...]  # DNS names and IP addresses, in the certificate's order
    not_before: datetime  # aware, UTC
    not_after: datetime
    sha256: str  # "AB:CD:…", as `openssl x509 -fingerprint -sha256` prints it
    is_ca: bool
    self_signed: bool


# ------------------------------------------------------------------------------------ reading


def parse(der: bytes) -> x509.Certificate:
    """The certificate in `der`; ValueError when it is not one `cryptography` can read whole."""
    cert = x509.load_der_x509_certificate(der)
    # Extensions are decoded lazily; a malformed one must fail here, not in the middle of a rule.
    _ = cert.extensions
    return cert


def describe(cert: x509.Certificate) -> CertificateInfo:
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=tuple(dns_names(cert)) + tuple(str(ip) for ip in ip_addresses(cert)),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=fingerprint(cert),
        is_ca=is_ca(cert),
        self_signed=is_self_signed(cert),
    )


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def shown(name: x509.Name) -> str:
    """A distinguished name for a message: RFC 4514, or words when it is empty."""
    return name.rfc4514_string() or "(empty name)"


def is_ca(cert: x509.Certificate) -> bool:
    constraints = _extension(cert, x509.BasicConstraints)
    return constraints is not None and constraints.ca


def serves_tls(cert: x509.Certificate) -> bool:
    """Whether the extended key usage allows a TLS server (no EKU at all allows every use)."""
    usage = _extension(cert, x509.ExtendedKeyUsage)
    if usage is None:
        return True
    allowed = {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}
    return any(oid in allowed for oid in usage)


def key_usages(cert: x509.Certificate) -> str:
    usage = _extension(cert, x509.ExtendedKeyUsage)
    if usage is None:
        return "any"
    return ", ".join(_USAGE_NAMES.get(oid, oid.dotted_string) for oid in usage)


_USAGE_NAMES = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def authority_key_id(cert: x509.Certificate) -> bytes | None:
    found = _extension(cert, x509.AuthorityKeyIdentifier)
    return found.key_identifier if found is not None else None


def _subject_key_id(cert: x509.Certificate) -> bytes | None:
    found = _extension(cert, x509.SubjectKeyIdentifier)
    return found.digest if found is not None else None


def _extension(cert: x509.Certificate, kind: type[E]) -> E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


# ----------------------------------------------------------------------------------- issuers


def names_issuer(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """OpenSSL's candidate test: `parent` is named as the issuer and no key identifier objects."""
    if child.issuer != parent.subject:
        return False
    wanted, offered = authority_key_id(child), _subject_key_id(parent)
    return wanted is None or offered is None or wanted == offered


def signed_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """Whether `parent`'s key made `child`'s signature.

    A scheme `cryptography` cannot check here counts as signed: OpenSSL's verdict still decides, and
    this answer only chooses between specific reasons.
    """
    try:
        child.verify_directly_issued_by(parent)
    except InvalidSignature:
        return False
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return True
    return True


def is_self_signed(cert: x509.Certificate) -> bool:
    return names_issuer(cert, cert) and signed_by(cert, cert)


# ------------------------------------------------------------------------------------- dates


def validity_at(cert: x509.Certificate, now: datetime) -> str | None:
    """`EXPIRED`, `NOT_YET_VALID`, or None when `now` lies within the certificate's dates."""
    if now < cert.not_valid_before_utc:
        return NOT_YET_VALID
    if now > cert.not_valid_after_utc:
        return EXPIRED
    return None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# ------------------------------------------------------------------------------------- names


def dns_names(cert: x509.Certificate) -> list[str]:
    san = _extension(cert, x509.SubjectAlternativeName)
    return san.get_values_for_type(x509.DNSName) if san is not None else []


def ip_addresses(cert: x509.Certificate) -> list[IpAddress]:
    san = _extension(cert, x509.SubjectAlternativeName)
    found = san.get_values_for_type(x509.IPAddress) if san is not None else []
    return [ip for ip in found if isinstance(ip, IpAddress)]


def common_names(cert: x509.Certificate) -> list[str]:
    values = (a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME))
    return [v if isinstance(v, str) else v.decode("utf-8", "replace") for v in values]


def matches_name(cert: x509.Certificate, expected: str) -> bool:
    wanted_ip = _as_ip(expected)
    dns, ips = dns_names(cert), ip_addresses(cert)
    if dns or ips:
        if wanted_ip is not None:
            return wanted_ip in ips
        return any(_dns_matches(pattern, expected) for pattern in dns)
    # No usable SAN: the subject CN is the presented identity (SPEC section 5).
    if wanted_ip is not None:
        return any(_as_ip(cn) == wanted_ip for cn in common_names(cert))
    return any(_dns_matches(cn, expected) for cn in common_names(cert))


def presented_names(cert: x509.Certificate) -> str:
    """The identities the name check looked at, as an operator would list them."""
    sans = [f"DNS:{n}" for n in dns_names(cert)] + [f"IP:{ip}" for ip in ip_addresses(cert)]
    if sans:
        return ", ".join(sans)
    cns = common_names(cert)
    if cns:
        return ", ".join(f"CN={cn}" for cn in cns) + " (no SAN)"
    return "no name at all (neither SAN nor CN)"


def _as_ip(text: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(text.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return None


def _dns_matches(pattern: str, host: str) -> bool:
    pattern, host = _canonical(pattern), _canonical(host)
    if not _is_host(host) or _as_ip(host) is not None:
        return False
    if "*" not in pattern:
        return pattern == host
    wildcard, _, suffix = pattern.partition(".")
    # `*` must be the whole leftmost label and leave at least two labels ("*.test" is refused).
    if wildcard != "*" or "*" in suffix or "." not in suffix.strip("."):
        return False
    _, _, host_suffix = host.partition(".")
    return host_suffix == suffix


def _is_host(name: str) -> bool:
    labels = name.split(".")
    return all(labels) and "*" not in name


def _canonical(name: str) -> str:
    name = name.strip().rstrip(".").lower()
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


# ------------------------------------------------------------------------ the OpenSSL reading


@dataclass(frozen=True, slots=True)
class VerifyError:
    """OpenSSL's complaint: its verify code, its text for that code, and where in the chain."""

    code: int
    text: str
    depth: int
    certificate: x509.Certificate


Verifier = Callable[[Sequence[x509.Certificate], datetime], VerifyError | None]

# Verify codes by name, from the OpenSSL pyOpenSSL runs on: numbers can move between major
# versions (INVALID_CA was 24 in OpenSSL 3 and is 79 in 4), names do not.
ISSUER_NOT_FOUND = frozenset(
    {
        _openssl_lib.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
        _openssl_lib.X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
        _openssl_lib.X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
    }
)
SELF_SIGNED_UNTRUSTED = frozenset(
    {
        _openssl_lib.X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
        _openssl_lib.X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN,
    }
)
OUT_OF_DATES = frozenset(
    {_openssl_lib.X509_V_ERR_CERT_NOT_YET_VALID, _openssl_lib.X509_V_ERR_CERT_HAS_EXPIRED}
)
UNSUITABLE_PURPOSE: int = _openssl_lib.X509_V_ERR_INVALID_PURPOSE


def _verify(store: crypto.X509Store, certs: Sequence[x509.Certificate]) -> VerifyError | None:
    leaf, *helpers = (crypto.X509.from_cryptography(c) for c in certs)
    try:
        crypto.X509StoreContext(store, leaf, helpers).verify_certificate()
    except crypto.X509StoreContextError as error:
        code, depth, text = error.errors  # pyOpenSSL: [code, depth, OpenSSL's text for code]
        return VerifyError(int(code), str(text), int(depth), error.certificate.to_cryptography())
    return None


def openssl_text(code: int) -> str:
    # For a code `tlscheck` derives itself: OpenSSL's own words, as for the codes it returns.
    return _openssl_string(_openssl_lib.X509_verify_cert_error_string(code))


class SystemStore:
    """The well-known CAs of the platform, loaded once and reused by every probe.

    `SystemStore()` reads the CA file and directory the platform's OpenSSL uses (honouring
    SSL_CERT_FILE / SSL_CERT_DIR). `SystemStore(roots=[der, …])` holds exactly those roots instead:
    a stand-in for tests, so the well-known-CA path runs without the host's store.
    """

    def __init__(self, roots: Sequence[bytes] | None = None) -> None:
        self._store = crypto.X509Store()
        # set_time writes the shared store; a lock keeps one probe's time out of another's check.
        self._lock = threading.Lock()
        if roots is None:
            self._load_platform_paths()
        else:
            for der in roots:
                self._store.add_cert(crypto.X509.from_cryptography(parse(der)))

    def _load_platform_paths(self) -> None:
        paths = ssl.get_default_verify_paths()
        # Typed as str, but None at run time when that file or directory does not exist.
        cafile: str | None = paths.cafile
        capath: str | None = paths.capath
        if cafile or capath:
            self._store.load_locations(cafile, capath)

    def verify(self, certs: Sequence[x509.Certificate], now: datetime) -> VerifyError | None:
        with self._lock:
            self._store.set_time(now)
            return _verify(self._store, certs)


@cache
def default_system_store() -> SystemStore:
    """The platform store for callers that pass none, built on first use and then kept."""
    return SystemStore()


@lru_cache(maxsize=256)
def load_anchors(ders: tuple[bytes, ...]) -> tuple[x509.Certificate, ...]:
    # Trust material is the same on every probe of a settings: parse it once.
    return tuple(parse(der) for der in ders)


def verifier_for(anchors: Sequence[x509.Certificate]) -> Verifier:
    def verify(certs: Sequence[x509.Certificate], now: datetime) -> VerifyError | None:
        store = crypto.X509Store()
        for anchor in anchors:
            store.add_cert(crypto.X509.from_cryptography(anchor))
        store.set_time(now)
        return _verify(store, certs)

    return verify


# -------------------------------------------------------------------------------- the path


class PathEnd(Enum):
    ANCHOR = "reached a trust anchor"
    SELF_SIGNED = "ends at a self-signed certificate that is no anchor"
    ISSUER_MISSING = "the top's issuer was neither presented nor an anchor"
    BAD_SIGNATURE = "the top's named issuer did not sign it"


@dataclass(frozen=True, slots=True)
class ChainPath:
    certs: tuple[x509.Certificate, ...]  # leaf first; ends with the anchor when one was reached
    end: PathEnd
    rejected: x509.Certificate | None = None  # BAD_SIGNATURE: the issuer whose key did not sign


def build_path(certs: Sequence[x509.Certificate], anchors: Sequence[x509.Certificate]) -> ChainPath:
    path, unused = [certs[0]], list(certs[1:])
    while True:  # ends: each step either returns or takes an anchor or an unused certificate
        top = path[-1]
        if top in anchors:
            return ChainPath(tuple(path), PathEnd.ANCHOR)
        if is_self_signed(top):
            return ChainPath(tuple(path), PathEnd.SELF_SIGNED)
        named = [c for c in (*anchors, *unused) if names_issuer(top, c)]
        signer = next((c for c in named if signed_by(top, c)), None)
        if signer is None:
            end = PathEnd.BAD_SIGNATURE if named else PathEnd.ISSUER_MISSING
            return ChainPath(tuple(path), end, named[0] if named else None)
        path.append(signer)
        if signer in unused:
            unused.remove(signer)
