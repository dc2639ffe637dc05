"""Client certificates on HTTPS listeners with mutual TLS: asking for them, judging them, and the
values the model's rewrite rules read (`client_certificate*`).

Why the handshake accepts any certificate: the model answers a client without a valid certificate
with HTTP 400, not a TLS alert, so the verdict must outlive the handshake. OpenSSL is told to ask
for a certificate (`SSL_VERIFY_PEER` without `FAIL_IF_NO_PEER_CERT`) with a verify callback that
accepts every chain (as nginx does for `ssl_verify_client`); the chain is judged here, after the
handshake, against the profile's CAs, and the connection answers 400 if it failed. OpenSSL still
checks that the client holds the certificate's key (CertificateVerify).

Rules of this module:
- nothing here awaits: revocation is asked by `proxy/ocsp.py`, which uses the request and the
  response check written here;
- session resumption is off on sockets with mutual TLS (no tickets, no session cache), so every
  connection shows its certificate and is judged afresh;
- verdict words are OpenSSL's (`FAILED:certificate has expired`), as the model reports them.
"""

from __future__ import annotations

import _ssl
import ctypes
import datetime as dt
import hashlib
import ssl
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from OpenSSL import crypto

from probegate.config.mutualtls import ClientAuth
from probegate.proxy.tlspolicy import ctx_pointer, libssl

SUCCESS, NONE = "SUCCESS", "NONE"
_SSL_VERIFY_PEER = 0x01
_SSL_CTRL_SET_SESS_CACHE_MODE = 44
_VERIFY_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int, ctypes.c_void_p)


@dataclass(frozen=True, slots=True)
class ClientCertificate:
    """The model's `client_certificate*` server variables for one connection."""

    verification: str  # SUCCESS, FAILED:<reason> or NONE
    pem: str = ""
    subject: str = ""
    issuer: str = ""
    serial: str = ""
    fingerprint: str = ""  # SHA-1 of the DER, lower-case hex
    start_date: str = ""  # as OpenSSL prints it: "Dec  1 23:20:31 2026 GMT"
    end_date: str = ""

    @property
    def ok(self) -> bool:
        return self.verification == SUCCESS

    def variables(self) -> dict[str, str]:
        """By the model's names, as the rewrite rules read them."""
        return {
            "client_certificate": self.pem,
            "client_certificate_end_date": self.end_date,
            "client_certificate_fingerprint": self.fingerprint,
            "client_certificate_issuer": self.issuer,
            "client_certificate_serial": self.serial,
            "client_certificate_start_date": self.start_date,
            "client_certificate_subject": self.subject,
            "client_certificate_verification": self.verification,
        }


NO_CERTIFICATE = ClientCertificate(NONE)


@dataclass(frozen=True, slots=True)
class Judged:
    """A presented certificate's values, and what an OCSP check needs when one is due."""

    certificate: ClientCertificate
    leaf: x509.Certificate | None = None
    issuer: x509.Certificate | None = None  # set when the chain verified and OCSP is due


# ------------------------------------------------------------------------ the handshake


def _accept_any(_ok: int, _store: int | None) -> int:
    return 1  # judged after the handshake (`judge`), so a bad chain gets a 400, not an alert


_ACCEPT_ANY = _VERIFY_CALLBACK(_accept_any)  # kept alive here: OpenSSL holds a pointer to it


@cache
def _setters() -> tuple[Any, Any]:
    lib = libssl()
    set_verify, ctrl = lib.SSL_CTX_set_verify, lib.SSL_CTX_ctrl
    set_verify.argtypes = [ctypes.c_void_p, ctypes.c_int, _VERIFY_CALLBACK]
    set_verify.restype = None
    ctrl.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_long, ctypes.c_void_p]
    ctrl.restype = ctypes.c_long
    return set_verify, ctrl


def ask_for_certificates(context: ssl.SSLContext) -> None:
    """Make handshakes on `context` ask for a client certificate and accept whatever comes."""
    context.verify_mode = ssl.CERT_OPTIONAL
    context.num_tickets = 0
    set_verify, ctrl = _setters()
    pointer = ctx_pointer(context)
    set_verify(pointer, _SSL_VERIFY_PEER, _ACCEPT_ANY)
    ctrl(pointer, _SSL_CTRL_SET_SESS_CACHE_MODE, 0, None)  # SSL_SESS_CACHE_OFF


def presented(ssl_object: object) -> list[bytes]:
    """The chain the client sent, leaf first, as DER ([] when it sent none)."""
    if not isinstance(ssl_object, ssl.SSLObject):
        return []
    leaf = ssl_object.getpeercert(binary_form=True)
    if not leaf:
        return []
    chain = ssl_object._sslobj.get_unverified_chain() or []  # type: ignore[attr-defined]
    others = [c.public_bytes(_ssl.ENCODING_DER) for c in chain]
    return [leaf, *(der for der in others if der != leaf)]


# ------------------------------------------------------------------------ judging


def judge(ders: list[bytes], auth: ClientAuth, now: dt.datetime | None = None) -> Judged:
    """The verdict on a presented chain (leaf first) under a profile's client auth."""
    if not ders:
        return Judged(NO_CERTIFICATE)
    try:
        chain = [x509.load_der_x509_certificate(der) for der in ders]
    except ValueError:
        return Judged(ClientCertificate("FAILED:the client certificate cannot be read"))
    leaf = chain[0]
    failure, issuer = _verify(chain, auth, now)
    if failure is None and not _client_purpose(leaf):
        failure = "unsupported certificate purpose"
    if (
        failure is None
        and auth.verify_issuer_dn
        and leaf.issuer.public_bytes() not in auth.issuer_names
    ):
        failure = "the issuer DN is not that of a trusted client CA"
    verdict = SUCCESS if failure is None else f"FAILED:{failure}"
    values = describe(leaf, verdict)
    due = failure is None and auth.ocsp
    return Judged(values, leaf, issuer if due else None)


def describe(leaf: x509.Certificate, verification: str) -> ClientCertificate:
    return ClientCertificate(
        verification=verification,
        pem=leaf.public_bytes(Encoding.PEM).decode("ascii"),
        subject=leaf.subject.rfc4514_string(),
        issuer=leaf.issuer.rfc4514_string(),
        serial=f"{leaf.serial_number:X}",
        fingerprint=hashlib.sha1(leaf.public_bytes(Encoding.DER)).hexdigest(),
        start_date=_openssl_date(leaf.not_valid_before_utc),
        end_date=_openssl_date(leaf.not_valid_after_utc),
    )


def _openssl_date(when: dt.datetime) -> str:
    return f"{when:%b} {when.day:2d} {when:%H:%M:%S %Y} GMT"


def _verify(
    chain: list[x509.Certificate], auth: ClientAuth, now: dt.datetime | None
) -> tuple[str | None, x509.Certificate | None]:
    store = _store(auth) if now is None else _new_store(auth)  # a fixed time: for that call only
    if now is not None:
        store.set_time(now.replace(tzinfo=None))
    intermediates = [crypto.X509.from_cryptography(c) for c in chain[1:]]
    context = crypto.X509StoreContext(
        store, crypto.X509.from_cryptography(chain[0]), chain=intermediates
    )
    try:
        verified = context.get_verified_chain()
    except crypto.X509StoreContextError as error:
        return str(error.errors[2]), None
    issuer = verified[1].to_cryptography() if len(verified) > 1 else chain[0]
    return None, issuer


@lru_cache(maxsize=64)
def _store(auth: ClientAuth) -> crypto.X509Store:
    return _new_store(auth)


def _new_store(auth: ClientAuth) -> crypto.X509Store:
    store = crypto.X509Store()
    for der in auth.cas:
        store.add_cert(crypto.X509.from_cryptography(x509.load_der_x509_certificate(der)))
    return store


def _client_purpose(leaf: x509.Certificate) -> bool:
    """A certificate whose extended key usage is listed must allow client authentication."""
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return (
        ExtendedKeyUsageOID.CLIENT_AUTH in usages
        or ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages
    )


# ------------------------------------------------------------------------ OCSP (no I/O here)


def ocsp_url(leaf: x509.Certificate) -> str | None:
    """The OCSP responder the certificate names (its authority information access)."""
    try:
        access = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return None
    for item in access:
        if item.access_method == AuthorityInformationAccessOID.OCSP:
            location = item.access_location
            if isinstance(location, x509.UniformResourceIdentifier):
                return location.value
    return None


def ocsp_request(leaf: x509.Certificate, issuer: x509.Certificate) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1())
    return builder.build().public_bytes(Encoding.DER)


def ocsp_verdict(
    data: bytes, leaf: x509.Certificate, issuer: x509.Certificate, now: dt.datetime
) -> tuple[str | None, dt.datetime]:
    """(None when good, else the failure; until when the answer holds) of a responder's answer."""
    soon = now + dt.timedelta(minutes=5)
    try:
        answer = ocsp.load_der_ocsp_response(data)
    except ValueError:
        return "the OCSP responder's answer cannot be read", soon
    if answer.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return f"the OCSP responder answered {answer.response_status.name.lower()}", soon
    if answer.serial_number != leaf.serial_number or not _signed(answer, issuer):
        return "the OCSP answer is not signed for this certificate", soon
    until = answer.next_update_utc or now + dt.timedelta(hours=1)
    if answer.this_update_utc > soon or until < now - dt.timedelta(minutes=5):
        return "the OCSP answer is out of date", soon
    status = answer.certificate_status
    if status is ocsp.OCSPCertStatus.REVOKED:
        return "certificate revoked", min(until, now + dt.timedelta(hours=1))
    if status is ocsp.OCSPCertStatus.UNKNOWN:
        return "the OCSP responder does not know the certificate", soon
    return None, min(until, now + dt.timedelta(hours=1))


def _signed(answer: ocsp.OCSPResponse, issuer: x509.Certificate) -> bool:
    """Signed by the issuing CA, or by a responder certificate that CA issued for OCSP signing."""
    candidates = [issuer]
    for cert in answer.certificates:
        try:
            cert.verify_directly_issued_by(issuer)
            usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in usages:
            candidates.append(cert)
    return any(_signature_holds(answer, cert) for cert in candidates)


def _signature_holds(answer: ocsp.OCSPResponse, signer: x509.Certificate) -> bool:
    key, algorithm = signer.public_key(), answer.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(answer.signature, answer.tbs_response_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(answer.signature, answer.tbs_response_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True
