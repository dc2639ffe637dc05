"""Certificates of the demo's TLS backends, made at start-up with `cryptography`.

Rules of this module:
- pure construction: no files, no sockets, no wall clock (the caller passes `now`; the demo passes
  today, since the gateway judges certificates against today);
- ECDSA P-256 keys, one per certificate: fast enough that the whole set takes milliseconds;
- each `Chain` is what one backend presents, in the order it presents it, with the key of the
  certificate OpenSSL must send first (see `backends.TlsBackend`).
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAY = timedelta(days=1)
YEAR = timedelta(days=365)
ORGANIZATION = "probegate demo"


@dataclass(frozen=True, slots=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()

    @property
    def b64(self) -> str:
        """Base64 of the DER bytes: how a configuration (and an ARM template) carries it."""
        return base64.b64encode(self.cert.public_bytes(Encoding.DER)).decode()


@dataclass(frozen=True, slots=True)
class Chain:
    """What one TLS backend presents: PEM certificates in sending order, and the key to use."""

    pems: tuple[bytes, ...]
    key_pem: bytes


def issue(
    common_name: str | None,
    *,
    now: datetime,
    issuer: Issued | None = None,
    ca: bool = False,
    sans: tuple[str, ...] = (),
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    server_auth: bool = True,
    key: ec.EllipticCurvePrivateKey | None = None,
    forged_with: ec.EllipticCurvePrivateKey | None = None,
    organization: str = ORGANIZATION,
) -> Issued:
    """One certificate, self-signed when `issuer` is None; valid a year either side of `now`
    unless dated otherwise. `sans` holds DNS names and IP addresses. `forged_with` signs with a
    key other than the issuer's while keeping the issuer's name and key identifier (so only the
    signature betrays it); `key` reuses a given key instead of making one."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]
    if common_name is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    subject = x509.Name(attributes)
    authority = issuer.key if issuer else key
    signer = forged_with or authority
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - YEAR)
        .not_valid_after(not_after or now + YEAR)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.public_key()), False
        )
    )
    if ca:
        builder = builder.add_extension(_CA_USAGE, critical=True)
    else:
        purpose = (
            ExtendedKeyUsageOID.SERVER_AUTH if server_auth else ExtendedKeyUsageOID.CLIENT_AUTH
        )
        builder = builder.add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(_names(sans)), False)
    return Issued(builder.sign(signer, hashes.SHA256()), key)


_CA_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)


def _names(sans: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for value in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(value)))
        except ValueError:
            names.append(x509.DNSName(value))
    return names


@dataclass(frozen=True, slots=True)
class DemoPki:
    """Every certificate the demo needs, for backends that must be reached as `host`.

    `root` is the private root the demo's HTTPS settings upload; `other_root` is a second private
    CA that no setting trusts; `legacy` is the v1 authentication certificate."""

    host: str
    root: Issued
    intermediate: Issued
    leaf: Issued
    expiring: Issued  # 5 days left
    expired: Issued
    wrong_name: Issued
    client_only: Issued  # extended key usage clientAuth only
    other_root: Issued
    other_intermediate: Issued
    other_leaf: Issued
    self_signed: Issued
    legacy: Issued

    def chain(self, leaf: Issued, *rest: Issued) -> Chain:
        return Chain((leaf.pem, *(c.pem for c in rest)), leaf.key_pem)


def make_pki(host: str, now: datetime) -> DemoPki:
    root = issue("probegate demo Root CA", now=now, ca=True)
    intermediate = issue("probegate demo Issuing CA 1", now=now, issuer=root, ca=True)
    other_root = issue("Unrelated Private Root CA", now=now, ca=True)
    other_intermediate = issue("Unrelated Issuing CA", now=now, issuer=other_root, ca=True)

    def leaf(
        name: str = host, not_before: datetime | None = None, not_after: datetime | None = None
    ) -> Issued:
        return issue(
            name, now=now, issuer=intermediate, sans=(name,), not_before=not_before,
            not_after=not_after,
        )  # fmt: skip

    return DemoPki(
        host=host,
        root=root,
        intermediate=intermediate,
        leaf=leaf(),
        expiring=leaf(not_before=now - 85 * DAY, not_after=now + 5 * DAY - timedelta(minutes=1)),
        expired=leaf(not_before=now - YEAR, not_after=now - 2 * DAY),
        wrong_name=leaf(f"shop.{host.split('.', 1)[-1]}"),
        client_only=issue(host, now=now, issuer=intermediate, sans=(host,), server_auth=False),
        other_root=other_root,
        other_intermediate=other_intermediate,
        other_leaf=issue(host, now=now, issuer=other_intermediate, sans=(host,)),
        self_signed=issue(host, now=now, sans=(host,)),
        legacy=issue(f"legacy.{host.split('.', 1)[-1]}", now=now, issuer=intermediate),
    )
