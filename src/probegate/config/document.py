"""A tolerant view of a raw configuration document, for rules that must run even on a broken one.

Rules: nothing here raises on a bad shape; a value of the wrong type reads as absent (the schema
reports it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probegate.errors import ConfigIssue

Issues = Iterator[ConfigIssue]

LISTENERS = "httpListeners"
SSL_CERTS = "sslCertificates"
POOLS = "backendAddressPools"
SETTINGS = "backendHttpSettingsCollection"
PROBES = "probes"
ROOTS = "trustedRootCertificates"
AUTH_CERTS = "authenticationCertificates"
RULES = "requestRoutingRules"
PATH_MAPS = "urlPathMaps"
REDIRECTS = "redirectConfigurations"
REWRITES = "rewriteRuleSets"
COLLECTIONS = (LISTENERS, SSL_CERTS, POOLS, SETTINGS, PROBES, ROOTS, AUTH_CERTS, RULES, PATH_MAPS,
               REDIRECTS, REWRITES)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Doc:
    raw: dict[str, Any]
    base_dir: Path

    @property
    def is_v2(self) -> bool:
        sku = self.raw.get("sku", "Standard_v2")
        return not (isinstance(sku, str) and sku.casefold() in ("standard", "waf"))

    @property
    def sku(self) -> str:
        sku = self.raw.get("sku", "Standard_v2")
        return sku if isinstance(sku, str) else "Standard_v2"

    def items(self, collection: str) -> list[tuple[str, dict[str, Any]]]:
        value = self.raw.get(collection)
        if not isinstance(value, list):
            return []
        return [(f"{collection}[{i}]", v) for i, v in enumerate(value) if isinstance(v, dict)]

    def names(self, collection: str) -> list[str]:
        return [n for _, item in self.items(collection) if isinstance(n := item.get("name"), str)]

    def by_name(self, collection: str, name: object) -> dict[str, Any] | None:
        found = (item for _, item in self.items(collection) if item.get("name") == name)
        return next(found, None)


def text(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    return value if isinstance(value, str) else None


def folded(item: dict[str, Any], key: str) -> str | None:
    value = text(item, key)
    return value.casefold() if value is not None else None


def flag(item: dict[str, Any], key: str) -> bool:
    return item.get(key) is True
