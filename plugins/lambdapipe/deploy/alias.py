"""Reading and pointing a Lambda alias: whether it is settled on one version, and moving it at once."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

log = logging.getLogger(__name__)


def weights(alias: dict[str, Any]) -> dict[str, float]:
    """The alias's ``AdditionalVersionWeights``: the versions it sends a share to besides its own."""
    return (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def settled_on(alias: dict[str, Any], version: str) -> bool:
    """The alias sends everything to ``version``: no weights left from a shift."""
    return alias["FunctionVersion"] == version and not weights(alias)


def point_alias(
    conn: Any, function_name: str, alias: str, version: str, current: dict[str, Any] | None
) -> None:
    """Send everything to ``version`` at once, creating the alias if ``current`` (its config) is None."""
    if current is not None:  # also drops weights and the Description an interrupted shift left
        conn.update_alias(
            FunctionName=function_name,
            Name=alias,
            FunctionVersion=version,
            RoutingConfig={"AdditionalVersionWeights": {}},
            Description="",
        )
    else:
        try:
            conn.create_alias(FunctionName=function_name, Name=alias, FunctionVersion=version)
        except ClientError as error:
            if error.response["Error"]["Code"] not in ("ResourceConflictException", "ConflictException"):
                raise
            # A concurrent deploy created it first: this deploy's tested version still wins.
            conn.update_alias(FunctionName=function_name, Name=alias, FunctionVersion=version)
    log.info("%s: alias %s -> version %s", function_name, alias, version)
