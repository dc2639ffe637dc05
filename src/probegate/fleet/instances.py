"""Which instances the fleet view asks, and with which token.

Instances come from `--url` (repeatable) and from an instances file (`--instances FILE`), file
entries first. The file is YAML (JSON is YAML too):

    instances:
      - url: http://10.0.0.4:9090      # the admin API of one instance
        name: east-1                   # optional; default: the URL's host:port
        token: ${env:EAST_TOKEN}       # optional: a literal, or ${env:NAME}
      - url: http://10.0.0.5:9090
        tokenFile: west.token          # optional, relative to the instances file
      - http://10.0.0.6:9090           # a bare URL: the shared token

A top-level list (without `instances:`) is accepted as well. An entry without a token of its own,
and every `--url`, uses `--token`, else `PROBEGATE_TOKEN`.

Rules: every problem is a UsageError naming the file and the entry; names are unique (they head
the table's columns and key the JSON cells); no message quotes a token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from probegate.config import tokens
from probegate.errors import UsageError
from probegate.gatewayclient import TOKEN_ENV

ENTRY_KEYS = frozenset({"url", "name", "token", "tokenFile"})


@dataclass(frozen=True, slots=True)
class Instance:
    name: str
    url: str
    token: str | None


def gather(
    urls: Sequence[str],
    instances_file: Path | None,
    token: str | None,
    environ: Mapping[str, str] = os.environ,
) -> list[Instance]:
    """Every instance named by `--instances FILE` and `--url`, in that order."""
    shared = token or environ.get(TOKEN_ENV) or None
    found = read_file(instances_file, shared, environ) if instances_file is not None else []
    found += [Instance(default_name(u), checked_url(u, "--url"), shared) for u in urls]
    if not found:
        raise UsageError("name the instances with --url (repeatable) or --instances FILE")
    seen: set[str] = set()
    for instance in found:
        if instance.name in seen:
            raise UsageError(
                f"two instances are named '{instance.name}': give each a distinct `name` in the "
                "instances file"
            )
        seen.add(instance.name)
    return found


def checked_url(url: str, where: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{where}: '{url}' is not an http:// URL of an admin API")
    return url.rstrip("/")


def default_name(url: str) -> str:
    return urlsplit(url).netloc or url


def read_file(path: Path, shared: str | None, environ: Mapping[str, str]) -> list[Instance]:
    if path.is_dir():
        raise UsageError(f"--instances: {path} is a folder, not an instances file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"--instances: cannot read {path}: {exc.strerror or exc}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UsageError(f"--instances: {path} is not YAML: {exc}") from exc
    entries = data.get("instances") if isinstance(data, dict) else data
    if not isinstance(entries, list) or not entries:
        raise UsageError(
            f"{path}: expected `instances:` with a list of entries (a URL, or url/name/token/"
            "tokenFile)"
        )
    base = path.resolve().parent
    return [
        _entry(path, i, entry, base, shared=shared, environ=environ)
        for i, entry in enumerate(entries)
    ]


def _entry(
    path: Path,
    index: int,
    entry: Any,
    base: Path,
    *,
    shared: str | None,
    environ: Mapping[str, str],
) -> Instance:
    where = f"{path}: instances[{index}]"
    if isinstance(entry, str):
        entry = {"url": entry}
    if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
        raise UsageError(f"{where} needs a `url` (the instance's admin API)")
    unknown = sorted(str(k) for k in set(entry) - ENTRY_KEYS)
    if unknown:
        raise UsageError(
            f"{where}: unknown key '{unknown[0]}' (known: url, name, token, tokenFile)"
        )
    for key in ("name", "token", "tokenFile"):
        if key in entry and not (isinstance(entry[key], str) and entry[key]):
            raise UsageError(f"{where}.{key} takes a non-empty string")
    if "token" in entry and "tokenFile" in entry:
        raise UsageError(f"{where}: give `token` or `tokenFile`, not both")
    url = checked_url(entry["url"], f"{where}.url")
    found = tokens.resolve(
        entry.get("token"), entry.get("tokenFile"), base, loopback=True, environ=environ
    )
    if isinstance(found, tokens.TokenProblem):
        key = found.path.rpartition(".")[2]  # admin.token / admin.tokenFile: the same keys here
        raise UsageError(f"{where}.{key}: {found.message}")
    return Instance(entry.get("name") or default_name(url), url, found if found else shared)
