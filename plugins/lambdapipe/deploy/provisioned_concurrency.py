"""Provisioned concurrency on one alias or version: write only what differs, report what Lambda did.

``LambdaProvisionedConcurrencyOperator`` validates, calls ``apply`` and waits (in the worker or the
triggerer); this module holds the decisions, so they read the same wherever the wait happens.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.common.compat.sdk import AirflowException

from lambdapipe.hooks.lambda_function import LambdaHook

log = logging.getLogger(__name__)


def environment_count(value: Any, task_id: str) -> int:
    """``provisioned_concurrency`` as an int >= 0; templates render to strings."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"{task_id}: provisioned_concurrency must be an integer >= 0 (0 clears it), got {value!r}"
        )
    return value


class ProvisionedConcurrency:
    """The provisioned concurrency of ``function_name:qualifier``."""

    def __init__(self, hook: LambdaHook, function_name: str, qualifier: str) -> None:
        self.hook = hook
        self.function_name = function_name
        self.qualifier = qualifier
        self.target = f"{function_name}:{qualifier}"

    def current(self) -> dict[str, Any] | None:
        """Lambda's config for the target, or None when there is none."""
        return self.hook.get_provisioned_concurrency_or_none(self.function_name, self.qualifier)

    def apply(self, requested: int, config: dict[str, Any] | None) -> bool:
        """Write only what differs from ``config``; True when a write was made.

        A FAILED config asking for the same number is put again, which retries the allocation.
        """
        if requested == 0:
            if config is None:
                log.info("%s has no provisioned concurrency: nothing to clear", self.target)
                return False
            self.hook.conn.delete_provisioned_concurrency_config(
                FunctionName=self.function_name, Qualifier=self.qualifier
            )
            log.info("Cleared provisioned concurrency on %s", self.target)
            return True
        if config and config["RequestedProvisionedConcurrentExecutions"] == requested:
            if config["Status"] != "FAILED":
                log.info(
                    "%s already has provisioned concurrency %s (%s)", self.target, requested, config["Status"]
                )
                return False
            log.info("Retrying provisioned concurrency on %s: %s", self.target, config.get("StatusReason"))
        self.hook.conn.put_provisioned_concurrency_config(
            FunctionName=self.function_name,
            Qualifier=self.qualifier,
            ProvisionedConcurrentExecutions=requested,
        )
        log.info("Requested provisioned concurrency %s on %s", requested, self.target)
        return True

    def failure(self, requested: int, error: Exception) -> AirflowException:
        """Lambda's StatusReason when the allocation FAILED; otherwise what the wait hit."""
        config = self.current()
        if config is not None and config["Status"] == "FAILED":
            reason = config.get("StatusReason") or "Lambda gave no reason"
            return AirflowException(f"Provisioned concurrency {requested} on {self.target} FAILED: {reason}")
        return AirflowException(
            f"Waiting for provisioned concurrency {requested} on {self.target} failed: {error}"
        )

    def result(self, requested: int, changed: bool, config: dict[str, Any] | None = None) -> dict[str, Any]:
        """``{function_name, qualifier, requested, allocated, status, changed}`` as Lambda reports it now."""
        result = {"function_name": self.function_name, "qualifier": self.qualifier, "changed": changed}
        if requested == 0:
            return result | {"requested": 0, "allocated": 0, "status": "DELETED"}
        config = config or self.current()
        if config is None:
            raise AirflowException(f"Provisioned concurrency on {self.target} was deleted by someone else")
        return result | {
            "requested": config["RequestedProvisionedConcurrentExecutions"],
            "allocated": config.get("AllocatedProvisionedConcurrentExecutions", 0),
            "status": config["Status"],
        }
