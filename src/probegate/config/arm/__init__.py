"""The ARM template / Azure CLI import (`probegate import-arm`, and `probegate run` on a template).

Rules:
- Its own package: only `probegate.config.load`, `probegate.importer` and `probegate.cli` import
  it (an import-linter contract in pyproject.toml), and only through the names below.
- Inside, `convert` finds the gateway and converts its top level; `read` and `tables` convert the
  collections; `expr`, `scope`, `functions`, `library` and `loops` evaluate template expressions;
  `params` reads parameters and parameters files; `listeners` and `summary` shape what is said.
"""

from probegate.config.arm.convert import (
    ArmConversion,
    convert_arm,
    is_arm_document,
    load_parameters_file,
)
from probegate.config.arm.summary import in_template, present

__all__ = [
    "ArmConversion",
    "convert_arm",
    "in_template",
    "is_arm_document",
    "load_parameters_file",
    "present",
]
