"""Which data path this process runs: the compiled build of the hot proxy modules, or the same
modules interpreted.

`pip install .` compiles `COMPILED` with mypyc when the machine has a C compiler (setup.py reads
the list from this file, so it is kept in one place); without one it installs the same modules as
plain Python. The build writes `_build.json` beside this file: the compiler it used and a hash of
each module's source, so a compiled module built from other sources (an edited checkout that was
not rebuilt) is reported as stale rather than silently run.

`PROBEGATE_DATA_PATH=interpreted` in the environment makes the process import the sources even
where the compiled build exists (the benchmark runs both side by side; a suspected compiler
problem can be ruled out the same way). This module uses the standard library only: setup.py runs
it before any dependency is installed.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

# The request path: client connection, exchange (both halves), upstream pool and connector, wire,
# routing lookup, balancer pick, and what they call per request. Compiled together, so their calls
# to one another are native calls; and the duration histogram each answer feeds. `server` is here
# because `Proxy` extends the compiled `ProxyContext` (interpreted classes cannot extend compiled
# ones). The probe path too: thousands of probes a second through the same few functions — the
# plain probe and its response reader, the attempt's bookkeeping, the values it yields, the
# evaluation, the state machine, the results ring, the scheduler that starts and ends probes and
# the store that folds each result in.
COMPILED = (
    "probegate.health.attempt",
    "probegate.health.capacity",
    "probegate.health.connection",
    "probegate.health.evaluate",
    "probegate.health.observation",
    "probegate.health.plain",
    "probegate.health.recent",
    "probegate.health.result",
    "probegate.health.scheduler",
    "probegate.health.transitions",
    "probegate.histogram",
    "probegate.proxy.balancer",
    "probegate.proxy.client",
    "probegate.proxy.context",
    "probegate.proxy.evidence",
    "probegate.proxy.exchange",
    "probegate.proxy.lifecycle",
    "probegate.proxy.link",
    "probegate.proxy.mutual",
    "probegate.proxy.request",
    "probegate.proxy.response",
    "probegate.proxy.rewrite",
    "probegate.proxy.rewriting",
    "probegate.proxy.routing",
    "probegate.proxy.server",
    "probegate.proxy.tables",
    "probegate.proxy.upstream",
    "probegate.proxy.wire",
    "probegate.proxy.words",
    "probegate.state.store",
)
ENV = "PROBEGATE_DATA_PATH"  # "interpreted" imports the sources even when the build is compiled
BUILD_FILE = "_build.json"
_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True, slots=True)
class DataPath:
    mode: str  # "compiled", "interpreted" or "stale"
    detail: str  # how it came to be: the compiler, or why not
    compiler: str  # "mypyc 1.x" or "" when nothing was compiled
    modules: tuple[str, ...]  # the hot modules as loaded (or as they would load) compiled

    @property
    def compiled(self) -> bool:
        return self.mode == "compiled"

    def describe(self) -> str:
        return f"{self.mode} ({self.detail})"

    def as_json(self) -> dict[str, object]:
        return {
            "mode": self.mode,
            "detail": self.detail,
            "compiler": self.compiler or None,
            "compiledModules": list(self.modules),
        }


def source_path(module: str, root: Path = _HERE.parent) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def source_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def wanted_interpreted() -> bool:
    return os.environ.get(ENV, "").strip().lower() == "interpreted"


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Finds the `.py` file of a compiled module before the extension beside it is considered."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,  # noqa: ARG002 - the finder protocol
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in COMPILED or path is None:
            return None
        leaf = fullname.rpartition(".")[2]
        for entry in path:
            candidate = Path(entry, f"{leaf}.py")
            if candidate.is_file():
                return importlib.util.spec_from_file_location(fullname, candidate)
        return None


def prefer_sources() -> None:
    """Import the data path's sources from now on (called first thing by the package)."""
    if not any(isinstance(finder, _SourcesFirst) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourcesFirst())


def _origin(module: str) -> str:
    loaded = sys.modules.get(module)
    if loaded is not None:
        return str(getattr(loaded, "__file__", "") or "")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return ""
    return spec.origin or "" if spec is not None else ""


def _is_extension(origin: str) -> bool:
    return origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def _read_build() -> dict[str, object]:
    try:
        found = json.loads((_HERE / BUILD_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def data_path() -> DataPath:
    """What this process runs, from the modules as loaded (or as an import would find them)."""
    build = _read_build()
    compiler = str(build.get("compiler") or "")
    compiled = tuple(m for m in COMPILED if _is_extension(_origin(m)))
    if not compiled:
        if wanted_interpreted():
            return DataPath("interpreted", f"{ENV}=interpreted", "", ())
        why = str(build.get("why") or "installed without compiling (no build information)")
        return DataPath("interpreted", why, "", ())
    missing = [m for m in COMPILED if m not in compiled]
    if missing:
        return DataPath("stale", f"not compiled: {', '.join(missing)}", compiler, compiled)
    hashes = build.get("sources")
    if isinstance(hashes, dict):
        changed = [
            m
            for m in COMPILED
            if source_path(m).is_file() and hashes.get(m) != source_hash(source_path(m))
        ]
        if changed:
            return DataPath(
                "stale",
                f"compiled from other sources than {', '.join(changed)}: rebuild"
                " (pip install ., or scripts/bootstrap in a checkout)",
                compiler,
                compiled,
            )
    return DataPath("compiled", compiler or "compiled", compiler, compiled)
