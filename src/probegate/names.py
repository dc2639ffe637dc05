"""Names an operator types on the command line (`--pool`, `--settings`), checked against a plan.

Rules: a name that is not in the plan is a UsageError that suggests the closest one and lists the
valid ones, the way `validate` answers a reference that does not resolve.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from probegate.config.plan import GatewayPlan
from probegate.errors import UsageError


def unknown(
    option: str, what: str, name: str, known: Sequence[str], label: str = "defined"
) -> UsageError:
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    folded = [k for k in known if k.casefold() == name.casefold()]
    hint = f"; did you mean '{(folded or close)[0]}'?" if folded or close else ""
    listing = f" ({label}: {', '.join(known)})" if known else f" (the file defines no {what})"
    return UsageError(f"{option}: no {what} is named '{name}'{hint}{listing}")


def check_pair_in_health(document: dict[str, Any], pool: str, settings: str) -> None:
    """The same for a running gateway, whose backend-health document names the pools and
    settings that have probe targets (the API itself only says which name it does not know)."""
    pools = [p["backendAddressPool"]["name"] for p in document.get("backendAddressPools", [])]
    label = "the gateway's pools with probe targets"
    if pool not in pools:
        raise unknown("--pool", "backend address pool", pool, pools, label)
    items = sorted(
        {
            s["backendHttpSettings"]["name"]
            for p in document["backendAddressPools"]
            for s in p["backendHttpSettingsCollection"]
        }
    )
    if settings not in items:
        raise unknown(
            "--settings",
            "backend HTTP settings item",
            settings,
            items,
            "the gateway's settings with probe targets",
        )


def check_pair(plan: GatewayPlan, pool: str | None, settings: str | None) -> None:
    """Raise a UsageError with a suggestion for a pool or settings name the plan does not have."""
    pools = [p.name for p in plan.pools]
    if pool is not None and pool not in pools:
        raise unknown("--pool", "backend address pool", pool, pools)
    items = [s.name for s in plan.settings]
    if settings is not None and settings not in items:
        raise unknown("--settings", "backend HTTP settings item", settings, items)
