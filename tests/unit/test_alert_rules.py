"""The shipped Prometheus alerting rules: valid for promtool, their own unit tests pass, and every
metric they read is one probegate serves."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from probegate import metrics

RULES = Path(__file__).parents[2] / "deploy" / "prometheus"


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool is missing: install Debian's prometheus package (apt-get install prometheus)"
        )
    return found


def test_the_rules_file_is_valid() -> None:
    done = subprocess.run(
        [promtool(), "check", "rules", "probegate-rules.yml"],
        cwd=RULES, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 7 rules found" in done.stdout


def test_the_rules_pass_their_promtool_tests() -> None:
    done = subprocess.run(
        [promtool(), "test", "rules", "probegate-rules.test.yml"],
        cwd=RULES, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_metric_the_rules_read_is_served() -> None:
    used = set(re.findall(r"probegate_[a-z_]+", (RULES / "probegate-rules.yml").read_text()))
    source = Path(metrics.__file__).read_text()
    missing = sorted(name for name in used if f'"{name}"' not in source)
    assert missing == []
    assert len(used) == 4  # server health and routability, certificate expiry, reloads
