"""How the outcome of an ARM import is told: a few prominent lines, one summary, and problems
placed in the template rather than in the converted configuration.

Rules of this module:
- a field left out that changes how traffic is handled (WAF, autoscale, TLS policy,
  SNI requirements, HTTP/2, ...) is a line of its own; everything that simply cannot apply to a
  self-hosted gateway (names, locations, IP configurations, other resources, status fields) is
  counted in one line;
- a problem found in the converted configuration is reported at the template path the value came
  from, naming the parameter that supplied it, with probegate's own path in parentheses.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from probegate.errors import ConfigIssue

# Left out, and the gateway then behaves differently from the one the template describes.
BEHAVIOUR = frozenset(
    [
        "webapplicationfirewallconfiguration",
        "firewallpolicy",
        "forcefirewallpolicyassociation",
        "autoscaleconfiguration",
        "requireservernameindication",
        "enablehttp2",
        "sslpolicy",
        "sslprofiles",
        "sslprofile",
        "trustedclientcertificates",
        "disabledsslprotocols",
        "verifyclientauthmode",
        "loaddistributionpolicies",
        "loaddistributionpolicy",
        "listeners",
        "routingrules",
        "backendsettingscollection",
        "probeenabled",
        "keyvaultsecretid",
        "publiccertdata",
    ]
)
_UNKNOWN = "(not supported by probegate)"
_STEP = re.compile(r"\[\d+\]")
_PARAMETER = re.compile(r"parameters\(\s*'([^']+)'\s*\)", re.IGNORECASE)


# Values of those fields that are what probegate does anyway: nothing changes, no prominent line.
_HARMLESS = {"enablehttp2": "false", "requireservernameindication": "false", "probeenabled": "true"}


def _key(line: str) -> str:
    """`resources[2].properties.sku.tier: …` → `sku.tier`; `…httpListeners[1].properties.x` → `x`."""
    steps = [_STEP.sub("", step) for step in line.split(": ", 1)[0].split(".")]
    if len(steps) > 1 and steps[-2] not in ("properties", "resources", ""):
        return ".".join(steps[-2:])
    return steps[-1] if steps[-1] not in ("", "$") else line.split(": ", 1)[0]


def _changes_behaviour(line: str, key: str) -> bool:
    field = key.rsplit(".", 1)[-1].lower()
    if field not in BEHAVIOUR and not line.endswith(_UNKNOWN):
        return False
    value = line.split(": ", 1)[1].split(" (", 1)[0] if ": " in line else ""
    return _HARMLESS.get(field) != value


def _is_resource(line: str) -> bool:
    return (
        bool(re.match(r"^(\S+\.)?resources\[\d+\]: ", line))
        and "(only the application gateway" in line
    )


def present(ignored: Sequence[str], notes: Sequence[str]) -> list[str]:
    """The warnings to print: each note, each behaviour-changing field left out, then one line
    summing up what cannot apply."""
    shown = list(notes)
    rest: Counter[str] = Counter()
    resources: list[str] = []
    read_only = 0
    for line in ignored:
        key = _key(line)
        if _is_resource(line):
            resources.append(line.split(": ", 1)[1].split(" ", 1)[0])
        elif _changes_behaviour(line, key):
            shown.append(f"not converted, so probegate behaves differently: {line}")
        elif (found := re.search(r": (\d+) read-only fields", line)) is not None:
            read_only += int(found.group(1))
        else:
            rest[key] += 1
    parts = [f"{len(resources)} other resource{'s' if len(resources) != 1 else ''} ({', '.join(dict.fromkeys(resources))})"] if resources else []  # fmt: skip
    parts += [f"{key} ×{count}" if count > 1 else key for key, count in rest.items()]
    parts += [f"{read_only} read-only status fields"] if read_only else []
    if parts:
        shown.append(
            "left out, as they cannot apply to a self-hosted gateway: "
            + ", ".join(parts)
            + " (import-arm --show-ignored lists each one)"
        )
    return shown


def in_template(
    issues: Iterable[ConfigIssue], origins: Mapping[str, tuple[str, object]]
) -> list[ConfigIssue]:
    """Each issue about the converted configuration, placed at the template path it came from."""
    placed: list[ConfigIssue] = []
    for issue in issues:
        found = _origin(issue.path, origins)
        if found is None:
            placed.append(issue)
            continue
        prefix, (where, raw) = found
        parameter = _PARAMETER.search(raw) if isinstance(raw, str) else None
        source = f"from parameter '{parameter.group(1)}'; " if parameter else ""
        path = where + issue.path[len(prefix) :]
        placed.append(ConfigIssue(path, f"{issue.message} ({source}probegate's {issue.path})"))
    return placed


def _origin(
    path: str, origins: Mapping[str, tuple[str, object]]
) -> tuple[str, tuple[str, object]] | None:
    candidate = path
    while candidate:
        if candidate in origins:
            return candidate, origins[candidate]
        shorter = re.sub(r"(\.[^.\[\]]+|\[\d+\])$", "", candidate)
        if shorter == candidate:
            return None
        candidate = shorter
    return None
