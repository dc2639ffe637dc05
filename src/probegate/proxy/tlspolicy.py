"""A listener's TLS policy (`config.sslpolicy.ListenerTls`) applied to an OpenSSL server context.

Rules of this module:
- versions and the TLS 1.0-1.2 cipher list go through the `ssl` module; the TLS 1.3 suites
  through OpenSSL's `SSL_CTX_set_ciphersuites`, which Python 3.11's `ssl` does not expose: it is
  called with ctypes on the context's `SSL_CTX`, and the result is read back with
  `get_ciphers()` — a context that does not offer exactly the policy's suites is an error, never
  a silent approximation;
- the retired policies (TLS 1.0/1.1) need OpenSSL's security level 0, as those versions sign
  with SHA-1; the level is lowered only for them.
"""

from __future__ import annotations

import _ssl
import ctypes
import ssl
import warnings
from collections.abc import Callable
from functools import cache
from typing import cast

from probegate.config.sslpolicy import TLS10, TLS11, TLS12, TLS13, ListenerTls

_VERSIONS = {
    TLS10: ssl.TLSVersion.TLSv1,
    TLS11: ssl.TLSVersion.TLSv1_1,
    TLS12: ssl.TLSVersion.TLSv1_2,
    TLS13: ssl.TLSVersion.TLSv1_3,
}


def apply_policy(context: ssl.SSLContext, tls: ListenerTls) -> None:
    """Make `context` offer exactly the versions and suites of `tls` (new handshakes only)."""
    legacy = tls.min_version in (TLS10, TLS11)
    with warnings.catch_warnings():  # the retired policies ask for TLS 1.0/1.1 on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = _VERSIONS[tls.min_version]
        context.maximum_version = _VERSIONS[tls.max_version]
    if tls.openssl_ciphers:
        context.set_ciphers(tls.openssl_ciphers + (":@SECLEVEL=0" if legacy else ""))
    if tls.max_version == TLS13:
        _set_tls13_suites(context, tls.openssl_tls13)
    offered = {c["name"] for c in context.get_ciphers() if c["protocol"] == "TLSv1.3"}
    wanted = set(tls.openssl_tls13.split(":")) - {""} if tls.max_version == TLS13 else offered
    if offered != wanted:
        raise RuntimeError(f"OpenSSL offers TLS 1.3 suites {sorted(offered)}, not {sorted(wanted)}")


@cache
def libssl() -> ctypes.CDLL:
    """The OpenSSL that Python's `ssl` runs on (its `_ssl` module is linked against it)."""
    return ctypes.CDLL(_ssl.__file__)


def ctx_pointer(context: ssl.SSLContext) -> int:
    """The context's `SSL_CTX *`: CPython's PySSLContext starts with the object header, then it."""
    pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
    if not pointer:
        raise RuntimeError("no SSL_CTX behind this SSLContext")
    return pointer


@cache
def _ciphersuites_setter() -> Callable[[int, bytes], int]:
    function = libssl().SSL_CTX_set_ciphersuites
    function.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    function.restype = ctypes.c_int
    return cast(Callable[[int, bytes], int], function)


def _set_tls13_suites(context: ssl.SSLContext, suites: str) -> None:
    if _ciphersuites_setter()(ctx_pointer(context), suites.encode()) != 1:
        raise RuntimeError(f"OpenSSL refused the TLS 1.3 suites {suites!r}")
