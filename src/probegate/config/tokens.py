"""Where the admin token comes from, and whether it is fit for where the admin API listens.

The token is written in the file (`token: …`), named there as an environment variable
(`token: ${env:NAME}`), or kept in a file of its own (`tokenFile: …`, relative to the
configuration file; surrounding whitespace and the final newline are dropped), so that it need
not sit in a configuration that is shared or committed.

Rules of this module:
- problems are returned with their JSON path, never raised, and no message quotes the token;
- a token is visible ASCII without spaces (it travels in an `Authorization` header);
- on a non-loopback address a token has at least MIN_LENGTH characters: anything shorter can be
  guessed over the network (16 random hex digits are 64 bits).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from probegate.config import certs

MIN_LENGTH = 16
MAX_LENGTH = 4096
_ENV = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class TokenProblem:
    path: str  # admin.token or admin.tokenFile
    message: str


def resolve(
    token: str | None,
    token_file: str | None,
    base_dir: Path,
    *,
    loopback: bool,
    environ: Mapping[str, str] = os.environ,
) -> str | TokenProblem | None:
    """The token the admin API requires (None: no token), or why it cannot be used."""
    if token_file is not None:
        where, found = "admin.tokenFile", _read(certs.resolve(base_dir, token_file))
    elif token is not None:
        where, found = "admin.token", _expand(token, environ)
    else:
        return None
    if isinstance(found, TokenProblem):
        return TokenProblem(where, found.message)
    problem = strength_problem(found, loopback=loopback)
    return TokenProblem(where, problem) if problem else found


def strength_problem(token: str, *, loopback: bool) -> str | None:
    if not token:
        return "is empty"
    if len(token) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters, got {len(token)}"
    if not all("!" <= ch <= "~" for ch in token):
        return "must hold only visible ASCII characters, no spaces (it is sent in a header)"
    if not loopback and len(token) < MIN_LENGTH:
        return (
            f"must be at least {MIN_LENGTH} characters when the admin API listens on a "
            f"non-loopback address, got {len(token)}; make one with 'openssl rand -hex 24'"
        )
    return None


def _expand(token: str, environ: Mapping[str, str]) -> str | TokenProblem:
    if not token.startswith("${"):
        return token
    reference = _ENV.fullmatch(token)
    if reference is None:
        return TokenProblem("", "name an environment variable as '${env:NAME}'")
    name = reference.group(1)
    value = environ.get(name)
    if not value:
        return TokenProblem("", f"the environment variable {name} is not set, or empty")
    return value


def _read(path: Path) -> str | TokenProblem:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return TokenProblem("", f"cannot read {path}: {exc.strerror or exc}")
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        return TokenProblem("", f"{path} must hold the token as ASCII text")
