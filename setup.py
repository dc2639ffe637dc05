"""Build of probegate. pyproject.toml holds the metadata; this file adds the compiled data path.

The modules in `probegate.buildinfo.COMPILED` are compiled with mypyc when it and a C compiler
are available; otherwise (or with PROBEGATE_COMPILE=0) the same modules install as plain Python and
run interpreted. Either way the build writes `probegate/_build.json`, which `probegate --version`
and `GET /healthz` read to say which data path runs and why.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
INFO = runpy.run_path(str(ROOT / "src" / "probegate" / "buildinfo.py"))
COMPILED: tuple[str, ...] = INFO["COMPILED"]


def _sources() -> list[str]:
    return [os.path.join("src", *m.split(".")) + ".py" for m in COMPILED]


def _extensions() -> tuple[list[Any], str, str]:
    """(extension modules, compiler, why there are none)."""
    if os.environ.get("PROBEGATE_COMPILE", "1").strip() == "0":
        return [], "", "PROBEGATE_COMPILE=0 at install: the data path runs interpreted"
    try:
        import mypy.version  # noqa: PLC0415 - only the build needs it
        from mypyc.build import mypycify  # noqa: PLC0415
    except ImportError:
        return [], "", "mypyc was not available at install: the data path runs interpreted"
    try:
        modules = mypycify(
            ["--config-file", str(ROOT / "mypyc.ini"), *_sources()],
            opt_level="3",
            group_name="probegate_datapath",
        )
    except (Exception, SystemExit) as exc:  # a type error mypyc refuses: build interpreted
        return [], "", f"mypyc refused the sources ({exc}): the data path runs interpreted"
    return modules, f"mypyc {mypy.version.__version__}", ""


EXTENSIONS, COMPILER, WHY = _extensions()


class BuildDataPath(build_ext):
    """build_ext that falls back to the interpreted data path when the C build fails, and records
    which one it built."""

    def run(self) -> None:
        compiler, why = COMPILER, WHY
        if self.extensions:
            try:
                super().run()
            except Exception as exc:  # no compiler, missing headers: keep the pure modules
                self._remove_outputs()
                self.extensions = []
                self.distribution.ext_modules = []
                compiler = ""
                first = (str(exc).splitlines() or [type(exc).__name__])[0]
                shown = first if len(first) <= 100 else first[:97] + "..."
                why = f"the C build failed ({shown}): the data path runs interpreted"
                self.warn(why)
        self._write_build_file(compiler, why)

    def _targets(self) -> set[Path]:
        """Where the package is assembled: the extensions' folder, and build_py's (they differ
        when a failed C build left the wheel pure)."""
        if self.inplace:
            return {ROOT / "src" / "probegate"}
        python = self.get_finalized_command("build_py").build_lib
        return {Path(self.build_lib) / "probegate", Path(python) / "probegate"}

    def _remove_outputs(self) -> None:
        for output in self.get_outputs():
            Path(output).unlink(missing_ok=True)
        shutil.rmtree(Path(self.build_temp), ignore_errors=True)

    def _write_build_file(self, compiler: str, why: str) -> None:
        hashes = {
            m: INFO["source_hash"](ROOT / p) for m, p in zip(COMPILED, _sources(), strict=True)
        }
        record = {"compiler": compiler, "why": why, "sources": hashes if compiler else {}}
        for target in self._targets():
            target.mkdir(parents=True, exist_ok=True)
            (target / INFO["BUILD_FILE"]).write_text(json.dumps(record, indent=1) + "\n")


setup(ext_modules=EXTENSIONS, cmdclass={"build_ext": BuildDataPath})
