"""Secrets a configuration names instead of holding: `password: ${env:NAME}` on sslCertificates.

An imported ARM template's PFX password (a securestring) is not written into the YAML; the YAML
names an environment variable instead, which is read here, before validation, so every later
check (and the listener itself) sees the password. The admin token has the same form
(`config/tokens.py`).

Rules: the whole value is the reference (no text around it); an unset variable is an issue at the
field's path; no message ever quotes a secret's value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from probegate.errors import ConfigIssue

ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_FIELDS = (("sslCertificates", "password"),)


def reference(name: str) -> str:
    return f"${{env:{name}}}"


def expand_secrets(
    document: object, environ: Mapping[str, str] = os.environ
) -> tuple[object, list[ConfigIssue]]:
    """`document` with each `${env:NAME}` secret replaced by the variable's value (a copy where
    anything changed), and an issue for each variable that is not set."""
    if not isinstance(document, dict):
        return document, []
    issues: list[ConfigIssue] = []
    out: dict[str, Any] = document
    for collection, key in _SECRET_FIELDS:
        items = document.get(collection)
        if not isinstance(items, list):
            continue
        expanded = []
        for index, item in enumerate(items):
            value = item.get(key) if isinstance(item, dict) else None
            found = ENV_REFERENCE.fullmatch(value) if isinstance(value, str) else None
            if found is None:
                expanded.append(item)
                continue
            name = found.group(1)
            if name not in environ:
                issues.append(
                    ConfigIssue(
                        f"{collection}[{index}].{key}",
                        f"names the environment variable {name}, which is not set: set it to "
                        "the secret before probegate starts (for a service, in an "
                        "EnvironmentFile only root can read)",
                    )
                )
            expanded.append({**item, key: environ.get(name, "")})
        out = {**out, collection: expanded}
    return out, issues
