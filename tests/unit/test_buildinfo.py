"""Which data path runs: compiled where the build compiled it, the sources on request, and a
stale build named as such.

Under CI=true the suite's first pass must run the compiled modules: a build that silently fell back
to the interpreted ones (no compiler, a mypyc refusal) fails here instead of passing slowly."""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from probegate import buildinfo
from probegate.buildinfo import COMPILED, ENV, data_path

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath

EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def _loaded_files() -> dict[str, str]:
    for name in COMPILED:
        __import__(name)
    return {name: str(sys.modules[name].__file__) for name in COMPILED}


def test_under_ci_the_hot_path_is_the_compiled_one_unless_the_interpreted_pass_asked() -> None:
    files = _loaded_files()
    found = data_path()
    if buildinfo.wanted_interpreted():  # scripts/test's second pass
        assert found.mode == "interpreted"
        assert found.detail == f"{ENV}=interpreted"
        assert all(f.endswith(".py") for f in files.values()), files
        return
    compiled = {n for n, f in files.items() if f.endswith(EXTENSIONS)}
    if os.environ.get("CI", "").lower() == "true":
        assert found.mode == "compiled", found.describe()
        assert compiled == set(COMPILED), sorted(set(COMPILED) - compiled)
        assert found.compiler.startswith("mypyc ")
    assert found.compiled == (compiled == set(COMPILED))
    assert set(found.modules) == compiled


def _version(env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "probegate", "--version"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "40", **env},  # a narrow terminal must not wrap it
        timeout=60,
    )
    return done.stdout.strip()


def test_version_says_which_data_path_runs_and_the_environment_can_ask_for_the_sources() -> None:
    here = data_path()
    assert _version({}).endswith(f"(data path: {here.describe()})")
    assert _version({ENV: "interpreted"}).endswith(f"(data path: interpreted ({ENV}=interpreted))")
    done = subprocess.run(
        [sys.executable, "-c", "import probegate.proxy.client as c; print(c.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, ENV: "interpreted"},
        timeout=60,
    )
    assert done.stdout.strip().endswith("client.py")


def test_a_build_from_other_sources_is_stale_and_names_the_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not data_path().compiled:
        # Nothing compiled to be stale: the fallback reports why, from the build file if any.
        assert data_path().mode == "interpreted"
        assert data_path().detail
        return
    record = json.loads((Path(buildinfo.__file__).parent / buildinfo.BUILD_FILE).read_text())
    record["sources"]["probegate.proxy.wire"] = "0" * 64
    fake = tmp_path / "probegate"
    fake.mkdir()
    (fake / buildinfo.BUILD_FILE).write_text(json.dumps(record))
    monkeypatch.setattr(buildinfo, "_HERE", fake)
    found = data_path()
    assert found.mode == "stale"
    assert "probegate.proxy.wire" in found.detail
    assert "rebuild" in found.detail
