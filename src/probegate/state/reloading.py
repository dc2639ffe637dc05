"""What a reload did to the targets: the store's answer to `reload`, read by the scheduler (which
first probes may not wait), the log line and `POST /reload`'s `changes`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from probegate.config.plan import TargetKey
from probegate.state.snapshot import GroupKey


@dataclass(frozen=True, slots=True)
class ReloadSummary:
    """What a reload did to the targets, for the log line and the scheduler."""

    added: tuple[TargetKey, ...] = ()
    removed: tuple[TargetKey, ...] = ()
    kept: tuple[TargetKey, ...] = ()
    warming: tuple[TargetKey, ...] = ()  # probe changed: routed on the previous verdict
    replaced: Mapping[GroupKey, tuple[str, ...]] = field(default_factory=dict)  # → still served
    probe_now: tuple[TargetKey, ...] = ()  # first probes that must not wait

    def as_json(self) -> dict[str, object]:
        """The same, for the reload's API answer (`changes`)."""
        return {
            "targetsAdded": [str(k) for k in self.added],
            "targetsRemoved": [str(k) for k in self.removed],
            "targetsKept": len(self.kept),
            "warmingUp": [str(k) for k in self.warming],
            "servedUntilANewServerPasses": {str(g): list(s) for g, s in self.replaced.items()},
        }

    def describe(self) -> str:
        parts = [
            f"{len(self.added)} targets added",
            f"{len(self.removed)} removed",
            f"{len(self.kept)} kept",
        ]
        if self.warming:
            names = ", ".join(map(str, self.warming))
            parts.append(
                f"warming up on their previous verdict until the new probe answers: {names}"
            )
        for group, servers in self.replaced.items():
            parts.append(f"{group} keeps serving on {', '.join(servers)} until a new server passes")
        return "; ".join(parts)
