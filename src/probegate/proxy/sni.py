"""TLS of the HTTPS listeners: the certificate a client gets, chosen by the name it sends (SNI).

Rules of this module:
- one `SniChooser` per HTTPS socket, shared by the listeners on it: an exact host name first,
  then the first wildcard (in listener order) that matches, then the certificate of the first
  listener without host names (else of any listener);
- a reload updates a chooser in place (the socket stays open); contexts are built once per
  certificate, not per connection;
- private keys reach OpenSSL through a private temporary folder (`load_cert_chain` reads files
  only) and are removed at once;
- `requireServerNameIndication`: a handshake that names no listener of the socket (no SNI, or a
  name none of them has) and would fall to a listener that requires SNI is refused with the
  `unrecognized_name` alert; a basic listener that requires SNI takes any name, but not none;
- mutual TLS is per socket (config.mutualtls refuses two settings on one): whether a client
  certificate is asked for is fixed by the context the handshake starts on.
"""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

from probegate.config.mutualtls import ClientAuth
from probegate.config.plan import FrontendCertificate, Listener
from probegate.proxy.clientauth import ask_for_certificates
from probegate.proxy.routing import host_key
from probegate.proxy.tlspolicy import apply_policy


class SniChooser:
    """TLS contexts of the HTTPS listeners sharing one socket, chosen by the client's SNI."""

    def __init__(self, listeners: list[Listener]) -> None:
        self.default = _server_context(None)
        self.default.sni_callback = self._choose
        self.client_auth: ClientAuth | None = None
        self.update(listeners)

    def update(self, listeners: list[Listener]) -> None:
        contexts = {id(x.certificate): x.certificate for x in listeners if x.certificate}
        built = {key: _server_context(cert) for key, cert in contexts.items()}
        # One TLS policy per socket (config.sslpolicy refuses two): OpenSSL fixes versions and
        # ciphers when a handshake starts, before the SNI callback can choose another context.
        tls = next((x.tls for x in listeners if x.tls is not None), None)
        if tls is not None:
            for context in (self.default, *built.values()):
                apply_policy(context, tls)
        self.client_auth = next((x.client_auth for x in listeners if x.client_auth), None)
        if self.client_auth is not None:
            for context in (self.default, *built.values()):
                ask_for_certificates(context)
        else:
            self.default.verify_mode = ssl.CERT_NONE  # a reload may have turned it off
        exact: dict[str, ssl.SSLContext] = {}
        wild: list[tuple[str, ssl.SSLContext]] = []
        fallback: ssl.SSLContext | None = None
        for listener in listeners:
            if listener.certificate is None:
                continue
            context = built[id(listener.certificate)]
            if not listener.host_names and fallback is None:
                fallback = context
            for name in listener.host_names:
                if name.startswith("*."):
                    wild.append((name[1:], context))
                else:
                    exact.setdefault(name, context)
        self._exact, self._wild = exact, wild
        self._fallback = fallback or next(iter(built.values()), None)
        last = _fallback_listener(listeners)
        self._refuse_unnamed = last is not None and last.require_sni
        self._refuse_unknown = self._refuse_unnamed and last is not None and bool(last.host_names)
        if self._fallback is not None:
            _load_into(self.default, _first_cert(listeners))

    def _choose(self, sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> int | None:
        chosen = None
        key = host_key(name) if name else None
        if key is not None:
            chosen = self._exact.get(key)
            if chosen is None:
                chosen = next(
                    (c for s, c in self._wild if key.endswith(s) and len(key) > len(s)), None
                )
        if chosen is None and (self._refuse_unknown if key else self._refuse_unnamed):
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME  # requireServerNameIndication
        chosen = chosen or self._fallback
        if chosen is not None:
            sock.context = chosen
        return None


def _fallback_listener(listeners: list[Listener]) -> Listener | None:
    """The listener a handshake reaches when its name matches none: the first basic one."""
    found = [x for x in listeners if x.certificate and not x.host_names]
    found = found or [x for x in listeners if x.certificate]
    return found[0] if found else None


def _first_cert(listeners: list[Listener]) -> FrontendCertificate | None:
    basic = [x.certificate for x in listeners if x.certificate and not x.host_names]
    every = [x.certificate for x in listeners if x.certificate]
    found = basic or every
    return found[0] if found else None


def _server_context(cert: FrontendCertificate | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    if cert is not None:
        _load_into(context, cert)
    return context


def _load_into(context: ssl.SSLContext, cert: FrontendCertificate | None) -> None:
    """`load_cert_chain` reads files only: the PEM goes through a private temporary folder."""
    if cert is None:
        return
    with tempfile.TemporaryDirectory(prefix="probegate-") as folder:
        chain, key = Path(folder, "chain.pem"), Path(folder, "key.pem")
        chain.write_bytes(cert.chain_pem)
        key.touch(mode=0o600)
        key.write_bytes(cert.key_pem)
        context.load_cert_chain(chain, key)
