"""Certificates made by the tests, with every field under the test's control.

Rules of this module:
- pure construction with `cryptography`: no files, no sockets, no wall clock (callers pass dates);
- keys are ECDSA P-256 and cached per name, so building a table of chains stays fast;
- `forged_by` signs a certificate with a key other than its issuer's, keeping the issuer's name
  and key identifier, so only the signature betrays it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime(2031, 5, 17, 9, 30, tzinfo=UTC)  # deliberately not today: no test may need the clock
DAY = timedelta(days=1)
YEAR = timedelta(days=365)


@cache
def key(name: str) -> ec.EllipticCurvePrivateKey:
    """The private key of one named party (deterministic within a test run)."""
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True, slots=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)

    @property
    def subject(self) -> str:
        return self.cert.subject.rfc4514_string()


def name(common_name: str | None, organization: str = "probegate tests") -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]
    if common_name is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def make(
    common_name: str | None,
    *,
    issuer: Issued | None = None,
    ca: bool = False,
    sans: tuple[str, ...] = (),
    not_before: datetime = NOW - YEAR,
    not_after: datetime = NOW + YEAR,
    key_name: str | None = None,
    forged_by: str | None = None,
    server_auth: bool = True,
) -> Issued:
    """One certificate; self-signed when `issuer` is None.

    `sans` holds DNS names and IP addresses (told apart by parsing); empty means no SAN extension.
    """
    own_key = key(key_name or f"key of {common_name}")
    subject = name(common_name)
    signer = key(forged_by) if forged_by else (issuer.key if issuer else own_key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(own_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(own_key.public_key()), False)
    )
    authority = issuer.key if issuer else own_key
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.public_key()), critical=False
    )
    if ca:
        usage = x509.KeyUsage(
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
        builder = builder.add_extension(usage, critical=True)
    else:
        purpose = (
            ExtendedKeyUsageOID.SERVER_AUTH if server_auth else ExtendedKeyUsageOID.CLIENT_AUTH
        )
        builder = builder.add_extension(x509.ExtendedKeyUsage([purpose]), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(_general(sans)), False)
    return Issued(builder.sign(signer, hashes.SHA256()), own_key)


def _general(sans: tuple[str, ...]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for value in sans:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(value)))
        except ValueError:
            names.append(x509.DNSName(value))
    return names


@dataclass(frozen=True, slots=True)
class Pki:
    """A private CA: root → intermediate, and a leaf for `app.example.test` under the intermediate."""

    root: Issued
    intermediate: Issued
    leaf: Issued

    @property
    def full(self) -> tuple[bytes, ...]:
        """What a well-configured server sends: the leaf, then the intermediate (no root)."""
        return (self.leaf.der, self.intermediate.der)


def pki(label: str, *, leaf_sans: tuple[str, ...] = ("app.example.test",)) -> Pki:
    root = make(f"{label} Root CA", ca=True)
    intermediate = make(f"{label} Issuing CA 1", issuer=root, ca=True)
    leaf = make("app.example.test", issuer=intermediate, sans=leaf_sans)
    return Pki(root, intermediate, leaf)
