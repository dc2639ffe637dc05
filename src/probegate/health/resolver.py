"""The resolver moved to `probegate.resolver` (the prober and the proxy both use it).

This name stays only for the modules that still import it from here (health/prober.py and
commands.py, being edited under other issues); new code imports `probegate.resolver`.
"""

from probegate.resolver import SYSTEM_RESOLVER, SYSTEM_TTL, Resolved, Resolver

__all__ = ["SYSTEM_RESOLVER", "SYSTEM_TTL", "Resolved", "Resolver"]
