"""Weighted alias routing: an alias whose ``RoutingConfig.AdditionalVersionWeights`` gives another
version a share sends that share of its invocations there, as Lambda does for canary deploys.

Lambda draws each invocation at random; here the split is exact instead (with a weight of 0.1, every
tenth invocation of the alias), so a test of a canary's health sees the share it set, not a sample.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class AliasRouter:
    """Per alias, the share owed to each additional version: the version it reaches first is served.
    A changed alias (version or weights) starts owing from zero."""

    def __init__(self) -> None:
        self._owed: dict[str, tuple[tuple[str, tuple[tuple[str, float], ...]], dict[str, float]]] = {}
        self._lock = threading.Lock()

    def version_for(self, alias_key: str, alias: Any) -> str:
        """The version this invocation of ``alias`` runs: its own, or an additional one whose share is due."""
        primary = alias.function_version  # read once: moto updates version and weights in two steps
        routing = (alias.routing_config or {}).get("AdditionalVersionWeights") or {}
        config = (primary, tuple(sorted((version, float(weight)) for version, weight in routing.items())))
        with self._lock:
            seen, owed = self._owed.get(alias_key, (None, {}))
            if seen != config:
                owed = {}
                self._owed[alias_key] = (config, owed)
            chosen = primary
            for version, weight in config[1]:
                owed[version] = owed.get(version, 0.0) + weight
                if owed[version] >= 1.0 - 1e-9 and chosen == primary:
                    chosen = version
                    owed[version] -= 1.0
        return chosen


def refusing_bad_weights(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto's CreateAlias/UpdateAlias as AWS checks them: at most one additional version, published,
    not the alias's own, with the same execution role, weighted 0 to 1 (moto accepts any, and every
    Nth invocation would then fail)."""

    def call(
        self: Any, name: str, function_name: str, function_version: str, description: str, routing_config: Any
    ) -> Any:
        from moto.awslambda.exceptions import InvalidParameterValueException

        weights = (routing_config or {}).get("AdditionalVersionWeights") or {}
        current = self.get_alias(name, function_name).function_version if function_version is None else None
        primary = function_version or current
        if len(weights) > 1:
            raise InvalidParameterValueException("An alias may route to one additional version only")
        for version, weight in weights.items():
            if not str(version).isdigit() or str(version) == str(primary):
                raise InvalidParameterValueException(
                    f"The additional version {version!r} must be a published version other than the alias's {primary!r}"
                )
            if not 0.0 <= float(weight) <= 1.0:
                raise InvalidParameterValueException(
                    f"The weight of version {version} must be between 0.0 and 1.0"
                )
            additional = self.get_function(function_name, str(version))  # ResourceNotFound when unpublished
            if additional.role != self.get_function(function_name, str(primary)).role:
                raise InvalidParameterValueException(
                    f"Version {version} has a different execution role than version {primary}: an alias can "
                    "split its traffic only between versions with the same role"
                )
        return original(self, name, function_name, function_version, description, routing_config)

    return call
