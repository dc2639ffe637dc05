"""Certificates made by the tests, with every field under the test's control.

Rules of this module:
- pure construction with `cryptography`: no files, no sockets, no wall clock (callers pass dates);
- keys are ECDSA P-256 and cached per name, so building a table of chains stays fast;
- `forged_by` signs a certificate with a key other than its issuer's, keeping the issuer's name
  and key identifier, so only the signature betrays it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from cryptography.hazmat.primitives.asymmetric import ec

from probegate.demo.certs import Issued, issue

__all__ = ["DAY", "NOW", "YEAR", "Issued", "Pki", "key", "make", "pki"]

NOW = datetime(2031, 5, 17, 9, 30, tzinfo=UTC)  # deliberately not today: no test may need the clock
DAY = timedelta(days=1)
YEAR = timedelta(days=365)


@cache
def key(name: str) -> ec.EllipticCurvePrivateKey:
    """The private key of one named party (deterministic within a test run)."""
    return ec.generate_private_key(ec.SECP256R1())


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
    """One certificate; self-signed when `issuer` is None (the demo's builder, with keys named
    and cached per test run). `sans` holds DNS names and IP addresses; empty means no SAN."""
    return issue(
        common_name,
        now=NOW,
        issuer=issuer,
        ca=ca,
        sans=sans,
        not_before=not_before,
        not_after=not_after,
        server_auth=server_auth,
        key=key(key_name or f"key of {common_name}"),
        forged_with=key(forged_by) if forged_by else None,
        organization="probegate tests",
    )


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
