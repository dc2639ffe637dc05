"""Mutual TLS and the SNI requirement on listeners, as the model defines them: the trusted client
CA certificates, the profiles that list them, `clientAuthConfiguration`, and
`requireServerNameIndication` — the rules a file must follow and what each listener runs with.

Rules of this module:
- pure: data and functions of the raw document or the model, no `ssl`, no sockets; the proxy
  asks for and judges client certificates (`proxy/clientauth.py`);
- a profile turns mutual TLS on by listing `trustedClientCertificates`; `clientAuthConfiguration`
  only tunes the check (issuer DN, OCSP), so a configuration without trusted certificates is an
  error rather than a silent no-op;
- each trusted client certificate file holds CA certificates and exactly one root, as the model
  requires of an upload; mutual TLS is v2 only, as in the model;
- one client-auth setting per address and port: whether a certificate is asked for is decided by
  the context the handshake starts on, before the SNI callback picks a listener.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from probegate.config import certs
from probegate.config import model as m
from probegate.config.document import LISTENERS, Doc, Issues, flag, folded, text
from probegate.errors import ConfigIssue

TRUSTED_CLIENT_CERTS = "trustedClientCertificates"
SSL_PROFILES = "sslProfiles"


@dataclass(frozen=True, slots=True)
class ClientAuth:
    """What an HTTPS listener asks of its clients (its profile's mutual TLS)."""

    profile: str
    cas: tuple[bytes, ...]  # DER of every certificate of the profile's trusted client files
    issuer_names: tuple[
        bytes, ...
    ]  # DER subject of each file's lowest CA (verifyClientCertIssuerDN)
    verify_issuer_dn: bool
    ocsp: bool  # verifyClientRevocation: OCSP

    def describe(self) -> str:
        checks = ["chain to a trusted client CA"]
        if self.verify_issuer_dn:
            checks.append("issuer DN")
        if self.ocsp:
            checks.append("OCSP revocation")
        return f"sslProfiles '{self.profile}': {', '.join(checks)}"


# ------------------------------------------------------------------------ compiling


def listener_client_auth(
    item: m.HttpListener, cfg: m.GatewayConfig, base_dir: Path
) -> ClientAuth | None:
    """The client auth of an HTTPS listener: its profile's (None: no mutual TLS)."""
    profile = next((p for p in cfg.ssl_profiles if p.name == item.ssl_profile), None)
    if profile is None or not profile.trusted_client_certificates:
        return None
    files = {c.name: c for c in cfg.trusted_client_certificates}
    listed = [read_trusted(files[name], base_dir) for name in profile.trusted_client_certificates]
    config = profile.client_auth_configuration or m.ClientAuthConfiguration()
    return ClientAuth(
        profile=profile.name,
        cas=tuple(c.public_bytes(Encoding.DER) for chain in listed for c in chain),
        issuer_names=tuple(lowest_ca(chain).subject.public_bytes() for chain in listed),
        verify_issuer_dn=config.verify_client_cert_issuer_dn,
        ocsp=config.verify_client_revocation is m.Revocation.OCSP,
    )


def read_trusted(item: m.CertificateFile, base_dir: Path) -> list[x509.Certificate]:
    loaded = (
        certs.read_certificates(certs.resolve(base_dir, item.cert_file))
        if item.cert_file is not None
        else certs.decode_inline(item.data or "")
    )
    assert isinstance(loaded, list)  # checked by `problems`
    return loaded


def lowest_ca(chain: list[x509.Certificate]) -> x509.Certificate:
    """The CA of an uploaded chain that issued none of the others: the client's issuer."""
    cas = [c for c in chain if _is_ca(c)]
    issuers = {c.issuer for c in cas if c.issuer != c.subject}
    return next((c for c in cas if c.subject not in issuers), cas[0])


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


# ------------------------------------------------------------------------ rules of a file


def problems(doc: Doc) -> Issues:
    """Trusted client certificates, the profiles' mutual TLS, requireServerNameIndication."""
    yield from _trusted_files(doc)
    names = [
        n for _, item in doc.items(TRUSTED_CLIENT_CERTS) if isinstance(n := item.get("name"), str)
    ]
    for path, profile in doc.items(SSL_PROFILES):
        yield from _profile(doc, path, profile, names)
    for path, listener in doc.items(LISTENERS):
        if (
            flag(listener, "requireServerNameIndication")
            and folded(listener, "protocol") != "https"
        ):
            yield ConfigIssue(
                f"{path}.requireServerNameIndication", "only an Https listener has a server name"
            )
    yield from _one_client_auth_per_socket(doc)


def _trusted_files(doc: Doc) -> Issues:
    seen: dict[str, str] = {}
    for path, item in doc.items(TRUSTED_CLIENT_CERTS):
        name = item.get("name")
        if isinstance(name, str):
            if name in seen:
                yield ConfigIssue(f"{path}.name", f"'{name}' is already used by {seen[name]}")
            seen.setdefault(name, path)
        if "certFile" in item and "data" in item:
            continue  # the schema asks for exactly one
        if (file := text(item, "certFile")) is not None:
            where, loaded = (
                f"{path}.certFile",
                certs.read_certificates(certs.resolve(doc.base_dir, file)),
            )
        elif (data := text(item, "data")) is not None:
            where, loaded = f"{path}.data", certs.decode_inline(data)
        else:
            continue
        if isinstance(loaded, str):
            yield ConfigIssue(where, loaded)
        elif problem := upload_problem(loaded):
            yield ConfigIssue(where, problem)


def upload_problem(chain: list[x509.Certificate]) -> str | None:
    """What the model refuses in a trusted client CA upload."""
    cas = [c for c in chain if _is_ca(c)]
    if not cas:
        return (
            "holds no CA certificate (basic constraints CA:TRUE); upload the CA that issues the "
            "client certificates, with its root, not a client certificate"
        )
    roots = [c for c in cas if c.subject == c.issuer]
    if not roots:
        return "holds no root CA certificate: add the self-signed root of the chain to the file"
    if len(roots) > 1:
        return f"holds {len(roots)} root CA certificates: upload one chain (one root) per item"
    return None


def _profile(doc: Doc, path: str, profile: dict[str, Any], names: list[str]) -> Issues:
    listed = profile.get(TRUSTED_CLIENT_CERTS)
    listed = listed if isinstance(listed, list) else []
    for i, name in enumerate(listed):
        if isinstance(name, str) and name not in names:
            close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            yield ConfigIssue(
                f"{path}.{TRUSTED_CLIENT_CERTS}[{i}]",
                f"no item of '{TRUSTED_CLIENT_CERTS}' is named '{name}'{hint}",
            )
    if "clientAuthConfiguration" in profile and not listed:
        yield ConfigIssue(
            f"{path}.clientAuthConfiguration",
            f"the profile lists no {TRUSTED_CLIENT_CERTS}: mutual TLS needs the CA certificates "
            "that issue the client certificates",
        )
    if listed and not doc.is_v2:
        yield ConfigIssue(
            f"{path}.{TRUSTED_CLIENT_CERTS}", f"mutual TLS needs a v2 SKU (sku is '{doc.sku}')"
        )


def _one_client_auth_per_socket(doc: Doc) -> Issues:
    profiles = {item.get("name"): item for _, item in doc.items(SSL_PROFILES)}
    first: dict[tuple[object, object], tuple[str, object]] = {}
    for path, listener in doc.items(LISTENERS):
        if folded(listener, "protocol") != "https":
            continue
        profile = profiles.get(listener.get("sslProfile"))
        setting = _client_setting(profile) if isinstance(profile, dict) else None
        socket = (listener.get("bindAddress", "127.0.0.1"), listener.get("port"))
        seen = first.setdefault(socket, (path, setting))
        if seen[1] != setting:
            yield ConfigIssue(
                f"{path}.sslProfile",
                f"shares its address and port with {seen[0]} but not its mutual TLS; a client "
                "certificate is asked for (or not) before the server name is known, so probegate "
                "applies one client-auth setting per socket (give them the same profile, or "
                "another port)",
            )


def _client_setting(profile: dict[str, Any]) -> object:
    listed = profile.get(TRUSTED_CLIENT_CERTS)
    if not isinstance(listed, list) or not listed:
        return None
    config = profile.get("clientAuthConfiguration")
    config = config if isinstance(config, dict) else {}
    return (
        tuple(sorted(str(x) for x in listed)),
        flag(config, "verifyClientCertIssuerDN"),
        folded(config, "verifyClientRevocation") == "ocsp",
    )
