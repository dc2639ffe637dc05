"""`probegate import-arm`: an ARM template or Azure CLI document → probegate YAML.

Rules: the conversion itself is `config/arm/`; this module decides what is written and said.
Warnings are a few prominent lines and one summary (`--show-ignored` lists every field). PFX
passwords are written as `${env:NAME}` references unless `--inline-secrets`, and an `-o` file is
created readable by its owner only. Problems are placed in the template (path and line), never
only in the converted configuration.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from probegate import commands
from probegate.config import arm, secrets
from probegate.config.arm import in_template, present
from probegate.config.load import load_document, placed, read_config_text
from probegate.config.source import parse_text
from probegate.errors import ConfigError, UsageError

EXIT_OK, EXIT_FAILED = 0, 1


def _print_warnings(warnings: Sequence[str]) -> None:
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)


def cmd_import_arm(args: argparse.Namespace, parameters: dict[str, object] | None) -> int:
    commands.check_file(args.file, "template")
    if args.output is not None:
        _check_output(args.output)
    source = str(args.file)
    text = read_config_text(args.file)
    document = parse_text(text, source)
    if not arm.is_arm_document(document):
        raise UsageError(
            f"{args.file} is neither an ARM template nor an Azure CLI gateway document"
        )
    try:
        converted = arm.convert_arm(document, parameters)
    except ConfigError as exc:
        raise ConfigError(placed(exc.issues, text, source), source) from exc
    written, secret_lines = _without_secrets(converted, inline=args.inline_secrets)
    _print_warnings([*present(converted.ignored, converted.notes), *secret_lines])
    if args.show_ignored:
        _print_warnings([f"ignored: {line}" for line in converted.ignored])
    body = yaml.safe_dump(written, sort_keys=False, allow_unicode=True)
    header = f"# probegate configuration imported from {args.file.name}\n"
    if args.output is not None:
        _write_output(args.output, header + body)
    else:
        sys.stdout.write(header + body)
    base = (args.output or args.file).resolve().parent
    try:
        load_document(converted.config, "imported configuration", base)
    except ConfigError as exc:
        print(
            "the imported configuration needs attention before probegate can run it:",
            file=sys.stderr,
        )
        issues = placed(in_template(exc.issues, converted.origins), text, source)
        print(str(ConfigError(issues, source)), file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _without_secrets(
    converted: arm.ArmConversion, *, inline: bool
) -> tuple[dict[str, Any], list[str]]:
    """The config to write: each PFX password replaced by `${env:NAME}` (unless `inline`), and
    what to tell the operator about it. The secret's value is never printed."""
    config = copy.deepcopy(converted.config)
    lines: list[str] = []
    for index, cert in enumerate(config.get("sslCertificates", [])):
        if not cert.get("password"):
            continue
        where = f"sslCertificates[{index}].password"
        raw = converted.origins.get(where, ("", None))[1]
        found = re.search(r"parameters\(\s*'([^']+)'", raw) if isinstance(raw, str) else None
        given = f"the value of parameter '{found.group(1)}'" if found else "the PFX password"
        if inline:
            lines.append(f"{where}: {given} is written in clear into the output; keep it private")
            continue
        name = (
            "PROBEGATE_"
            + re.sub(r"[^A-Za-z0-9]+", "_", str(cert.get("name", index))).upper()
            + "_PASSWORD"
        )
        cert["password"] = secrets.reference(name)
        lines.append(
            f"{where}: the password is a secret and is not written: the file reads it from the "
            f"environment variable {name}; set {name} to {given} before probegate runs "
            "(--inline-secrets writes it into the file instead)"
        )
    return config, lines


def _check_output(path: Path) -> None:
    """Refuse an `-o` path that cannot be written before any work is done."""
    if path.is_dir():
        raise UsageError(f"-o: {path} is a folder; give a file name, e.g. {path / 'gateway.yaml'}")
    if not path.parent.is_dir():
        raise UsageError(f"-o: the folder {path.parent} does not exist; create it first")


def _write_output(path: Path, text: str) -> None:
    """The imported YAML, readable by its owner only: it may carry a certificate's password."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise UsageError(f"-o: cannot write {path}: {exc.strerror or exc}") from exc
