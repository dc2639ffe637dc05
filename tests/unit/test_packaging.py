"""The systemd unit, the Dockerfile and the README stand on their own: the unit verifies, every
command they run is one the CLI accepts, everything the image copies exists, and the README
points only at files in this repository."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from probegate.cli import build_parser
from probegate.config.compile import compile_plan
from probegate.config.load import load_file

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "packaging" / "probegate.service"
INSTALLED = "/usr/local/bin/probegate"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys keep their case
    parser.read(UNIT, encoding="utf-8")
    return parser


def test_the_unit_runs_and_reloads_with_commands_the_cli_accepts() -> None:
    service = unit()["Service"]
    for key, command in (("ExecStart", "run"), ("ExecReload", "reload")):
        argv = shlex.split(service[key])
        assert argv[0] == INSTALLED
        args = build_parser().parse_args(argv[1:])
        assert args.command == command
        assert str(args.config) == "/etc/probegate/gateway.yaml"
    assert service["KillSignal"] == "SIGTERM"


def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing: install the 'systemd' package")
        pytest.skip("systemd-analyze is not installed")
    probegate = Path(sys.executable).with_name("probegate")
    assert probegate.exists(), "the probegate command is not installed next to this Python"
    copy = tmp_path / "probegate.service"  # verify wants the command to exist: point at ours
    copy.write_text(UNIT.read_text(encoding="utf-8").replace(INSTALLED, str(probegate)))
    result = subprocess.run(
        [tool, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # unknown keys only warn: none allowed


def dockerfile() -> list[tuple[str, str]]:
    lines = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line.strip() and not line.lstrip().startswith("#")
    ]


def test_the_dockerfile_copies_what_exists_and_runs_a_real_command() -> None:
    steps = dockerfile()
    copies = [shlex.split(arg)[:-1] for op, arg in steps if op == "COPY" and "--from=" not in arg]
    assert copies, "the image copies nothing"
    for sources in copies:
        for source in sources:
            assert (ROOT / source).exists(), source
    entry = json.loads(next(arg for op, arg in steps if op == "ENTRYPOINT"))
    command = json.loads(next(arg for op, arg in steps if op == "CMD"))
    assert entry == ["probegate"]
    assert build_parser().parse_args(command).command == "run"
    assert any(op == "USER" and arg.strip() != "root" for op, arg in steps)
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".venv" in ignored  # a local venv must not be sent into the build


@pytest.mark.parametrize(
    "document",
    ["README.md", "bench/README.md", *(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))],
)
def test_the_documents_point_only_at_files_in_the_repository(document: str) -> None:
    path = ROOT / document
    text = path.read_text(encoding="utf-8")
    for outside in ("../shared", "reference/", "SPEC section", "SPEC §", "SPEC 1", "SPEC 6"):
        assert outside not in text, outside
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not target.startswith(("http://", "https://")):
            assert (path.parent / target).exists(), target


def test_the_quick_start_in_the_readme_is_the_example_file_and_it_validates() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    shown = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    example = ROOT / "examples" / "quickstart.yaml"
    assert shown == yaml.safe_load(example.read_text(encoding="utf-8"))
    plan = compile_plan(load_file(example))
    assert len(plan.targets) == 3
    for line in section.split("```bash\n", 1)[1].split("```", 1)[0].splitlines():
        argv = [word for word in shlex.split(line.split("#", 1)[0]) if word != "&"]
        if argv and argv[0] == "probegate":  # every command shown is one the CLI accepts
            build_parser().parse_args(argv[1:])
