"""Weighted alias routing: an alias whose ``RoutingConfig.AdditionalVersionWeights`` gives another
version a share sends that share of its invocations there, as Lambda does for canary deploys.

Lambda draws each invocation at random; here the split is exact instead (with a weight of 0.1, every
tenth invocation of the alias), so a test of a canary's health sees the share it set, not a sample.
"""

from __future__ import annotations

import threading
from typing import Any


class AliasRouter:
    """Per alias, the share owed to each additional version: the version it reaches first is served."""

    def __init__(self) -> None:
        self._owed: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def version_for(self, alias_key: str, alias: Any) -> str:
        """The version this invocation of ``alias`` runs: its own, or an additional one whose share is due."""
        weights = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
        chosen = alias.function_version
        with self._lock:
            for version, weight in sorted(weights.items()):
                key = (alias_key, version)
                owed = self._owed.get(key, 0.0) + float(weight)
                if owed >= 1.0 - 1e-9 and chosen == alias.function_version:
                    chosen, owed = version, owed - 1.0
                self._owed[key] = owed
        return chosen
