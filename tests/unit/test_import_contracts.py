"""The ARM import's contract names its sources one by one (import-linter has no "everything but"):
every probegate module outside the allowed few must be on that list, so a new module cannot slip
past it."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "probegate"
ALLOWED = {"probegate.config.load", "probegate.importer", "probegate.cli", "probegate.config.arm"}
# Packages that hold an allowed module cannot be sources as a whole; their __init__ imports nothing.
PARENTS = {"probegate", "probegate.config"}


def _modules() -> set[str]:
    names = set()
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names.add(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _arm_contract() -> dict[str, object]:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(
        c for c in contracts["contracts"] if c.get("forbidden_modules") == ["probegate.config.arm"]
    )


def _covered(name: str, sources: list[str]) -> bool:
    return any(name == s or name.startswith(s + ".") for s in sources)


def test_every_module_but_the_allowed_ones_is_a_source_of_the_arm_contract() -> None:
    sources = _arm_contract()["source_modules"]
    assert isinstance(sources, list)
    left_out = {
        name
        for name in _modules()
        if name not in PARENTS
        and not _covered(name, sorted(ALLOWED))
        and not _covered(name, sources)
    }
    assert left_out == set()
