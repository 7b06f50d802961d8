"""Triggers that wait on AWS Lambda in the triggerer, so no worker slot is held while Lambda works."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.triggers.base import BaseTrigger, TriggerEvent

from lambdapipe.hooks.lambda_function import (
    PROVISIONED_CONCURRENCY_DELETED,
    PROVISIONED_CONCURRENCY_READY,
    LambdaHook,
)


class _LambdaWaiterHook:
    """``hook()`` for the Lambda waiters: Amazon providers before 9.37 have no ``aws_hook_class``
    default and leave ``hook`` abstract."""

    aws_conn_id: str | None
    region_name: str | None
    verify: bool | str | None
    botocore_config: dict[str, Any] | None

    def hook(self) -> LambdaHook:
        return LambdaHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )


class LambdaFunctionUpdatedTrigger(_LambdaWaiterHook, AwsBaseWaiterTrigger):
    """Waits for ``State=Active`` and ``LastUpdateStatus=Successful`` after a code or configuration write.

    :param function_name: The function being deployed.
    :param deploy_state: The deploy's progress (``DeployState.to_dict()``), handed back in the event
        so the task resumes where it left off (``airflow dags test`` drops ``defer(kwargs=...)``).
    """

    def __init__(
        self,
        *,
        function_name: str,
        deploy_state: dict[str, Any],
        waiter_delay: int = 2,
        waiter_max_attempts: int = 150,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            serialized_fields={"function_name": function_name, "deploy_state": deploy_state},
            waiter_name="function_updated_v2",
            waiter_args={"FunctionName": function_name},
            failure_message=f"Lambda function {function_name} failed to update",
            status_message=f"Lambda function {function_name} update status",
            status_queries=["Configuration.LastUpdateStatus", "Configuration.LastUpdateStatusReason"],
            return_key="deploy_state",
            return_value=deploy_state,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            **kwargs,
        )


class LambdaProvisionedConcurrencyTrigger(_LambdaWaiterHook, AwsBaseWaiterTrigger):
    """Waits until an alias's provisioned concurrency is ``READY``, or deleted when it was cleared.

    :param function_name: The function.
    :param qualifier: The alias (or version) the config belongs to.
    :param provisioned_concurrency: What was requested; 0 waits for the config to be gone.
    :param changed: Whether the task wrote the config, handed back in the event (``airflow dags test``
        drops ``defer(kwargs=...)``).
    """

    def __init__(
        self,
        *,
        function_name: str,
        qualifier: str,
        provisioned_concurrency: int,
        changed: bool,
        waiter_delay: int = 5,
        waiter_max_attempts: int = 120,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        cleared = provisioned_concurrency == 0
        target = f"{function_name}:{qualifier}"
        super().__init__(
            serialized_fields={
                "function_name": function_name,
                "qualifier": qualifier,
                "provisioned_concurrency": provisioned_concurrency,
                "changed": changed,
            },
            waiter_name=PROVISIONED_CONCURRENCY_DELETED if cleared else PROVISIONED_CONCURRENCY_READY,
            waiter_args={"FunctionName": function_name, "Qualifier": qualifier},
            failure_message=f"Provisioned concurrency on {target} failed",
            status_message=f"Provisioned concurrency on {target}",
            status_queries=["Status", "StatusReason"],
            return_key="changed",
            return_value=changed,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            **kwargs,
        )


class LambdaTrafficStepTrigger(BaseTrigger):
    """Waits out one step of a traffic shift, so the deploy holds no worker slot for its minutes.

    :param deploy_state: The deploy's progress (``DeployState.to_dict()``), handed back in the event.
    :param step_ends_at: When the step's wait is over (ISO 8601, UTC): a restarted triggerer waits only
        what is left of it.
    """

    def __init__(self, *, deploy_state: dict[str, Any], step_ends_at: str) -> None:
        super().__init__()
        self.deploy_state = deploy_state
        self.step_ends_at = step_ends_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{self.__class__.__module__}.{self.__class__.__qualname__}",
            {"deploy_state": self.deploy_state, "step_ends_at": self.step_ends_at},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        remaining = datetime.fromisoformat(self.step_ends_at) - datetime.now(UTC)
        await asyncio.sleep(max(0.0, remaining.total_seconds()))
        yield TriggerEvent({"status": "success", "deploy_state": self.deploy_state})
