"""Certificate files named by a configuration: reading and checking them, never trusting them.

Rules: PEM or DER for certificates (Azure's `.cer` is either), PEM for private keys; every failure
is returned as a message for the operator, not raised.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, pkcs12


def resolve(base_dir: Path, name: str) -> Path:
    """Relative certificate paths are relative to the configuration file, not to the shell."""
    path = Path(name).expanduser()
    return path if path.is_absolute() else base_dir / path


def parse_certificates(data: bytes) -> list[x509.Certificate] | str:
    """Every certificate in a PEM bundle, or the one certificate of a DER file."""
    if b"-----BEGIN" in data:
        try:
            found = x509.load_pem_x509_certificates(data)
        except ValueError:
            return "holds no readable PEM certificate"
        return found
    try:
        return [x509.load_der_x509_certificate(data)]
    except ValueError:
        return "is neither a PEM nor a DER certificate"


def read_certificates(path: Path) -> list[x509.Certificate] | str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot read '{path}': {exc.strerror or exc}"
    parsed = parse_certificates(data)
    return parsed if isinstance(parsed, list) else f"'{path}' {parsed}"


def decode_inline(text: str) -> list[x509.Certificate] | str:
    """Inline `data`: base64 of a DER (or PEM) certificate, as ARM templates carry it."""
    if "-----BEGIN" in text:
        parsed = parse_certificates(text.encode())
    else:
        try:
            raw = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            return "is not valid base64"
        parsed = parse_certificates(raw)
    return parsed if isinstance(parsed, list) else f"data {parsed}"


def key_problem(cert_path: Path, key_path: Path) -> str | None:
    """The frontend key must load and belong to the first certificate of the chain file."""
    certs = read_certificates(cert_path)
    if isinstance(certs, str):
        return certs
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as exc:
        return f"cannot read '{key_path}': {exc.strerror or exc}"
    except (ValueError, TypeError):
        return f"'{key_path}' is not an unencrypted PEM private key"
    mine = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    theirs = certs[0].public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return (
        None
        if mine == theirs
        else f"'{key_path}' is not the key of the certificate in '{cert_path}'"
    )


def pfx_problem(data: str, password: str | None) -> str | None:
    """Inline frontend certificate: base64 PFX (PKCS#12) holding a certificate and its key."""
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)
    except (binascii.Error, ValueError):
        return "is not valid base64"
    try:
        bundle = pkcs12.load_pkcs12(raw, password.encode() if password else None)
    except ValueError:
        return "cannot be opened as a PFX (PKCS#12) file with the given password"
    if bundle.cert is None or bundle.key is None:
        return "the PFX holds no certificate with its private key"
    return None


def pfx_to_pem(data: str, password: str | None) -> tuple[bytes, bytes]:
    """A validated PFX → (PEM chain, leaf first; PEM key). Call after `pfx_problem` said None."""
    raw = base64.b64decode("".join(data.split()))
    bundle = pkcs12.load_pkcs12(raw, password.encode() if password else None)
    assert bundle.cert is not None
    assert bundle.key is not None
    chain = [bundle.cert.certificate, *(c.certificate for c in bundle.additional_certs)]
    pem_chain = b"".join(c.public_bytes(Encoding.PEM) for c in chain)
    pem_key = bundle.key.private_bytes(
        Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem_chain, pem_key
