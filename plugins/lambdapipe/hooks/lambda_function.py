"""AWS Lambda hook: the provider's LambdaHook plus the reads and writes an idempotent deploy needs."""

from __future__ import annotations

import asyncio
import json
import time
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.lambda_function import LambdaHook as ProviderLambdaHook
from airflow.providers.amazon.aws.utils.waiter_with_logging import wait
from asgiref.sync import sync_to_async
from botocore.config import Config

from lambdapipe.invoking.invoker import (
    FunctionInfo,
    InvocationOutcome,
    Invoker,
    ThrottlePolicy,
    invoke_client_config,
)

# A freshly created IAM role takes a few seconds before Lambda may assume it.
ROLE_PROPAGATION_RETRY_S = (2, 4, 8, 16, 30)
ROLE_NOT_READY = "cannot be assumed by Lambda"
# Custom waiters in the provider's format (botocore has none for provisioned concurrency).
WAITERS_PATH = Path(__file__).parents[1] / "waiters" / "lambda.json"
PROVISIONED_CONCURRENCY_READY = "provisioned_concurrency_ready"
PROVISIONED_CONCURRENCY_DELETED = "provisioned_concurrency_deleted"


class FunctionNotFoundError(ValueError):
    """The function, or the version or alias asked for, does not exist in the region."""


class LambdaHook(ProviderLambdaHook):
    """Adds deploy-oriented calls; every read returns None instead of raising when a thing is absent."""

    def get_configuration_or_none(self, function_name: str, qualifier: str | None = None) -> dict | None:
        kwargs = {"FunctionName": function_name} | ({"Qualifier": qualifier} if qualifier else {})
        try:
            return self.conn.get_function_configuration(**kwargs)
        except self.conn.exceptions.ResourceNotFoundException:
            return None

    def get_alias_or_none(self, function_name: str, alias: str) -> dict | None:
        try:
            return self.conn.get_alias(FunctionName=function_name, Name=alias)
        except self.conn.exceptions.ResourceNotFoundException:
            return None

    def unqualified_triggers(self, function_name: str) -> list[str]:
        """What invokes the bare function (so ``$LATEST``): event source mappings and the services its
        resource policy lets in (S3 and SNS notifications need such a permission)."""
        found = [
            f"event source {mapping.get('EventSourceArn', mapping['UUID'])}"
            for page in self.conn.get_paginator("list_event_source_mappings").paginate(
                FunctionName=function_name
            )
            for mapping in page["EventSourceMappings"]
            if _qualifier(mapping["FunctionArn"]) in (None, "$LATEST")
        ]
        try:
            policy = json.loads(self.conn.get_policy(FunctionName=function_name)["Policy"])
        except self.conn.exceptions.ResourceNotFoundException:
            return found
        for statement in policy.get("Statement", []):
            principal = statement.get("Principal", {})
            if isinstance(principal, dict):
                principal = principal.get("Service") or principal.get("AWS")
            if _qualifier(statement.get("Resource", "")) in (None, "$LATEST"):
                found.append(f"{principal} (permission {statement.get('Sid', '?')})")
        return found

    def get_event_invoke_config_or_none(self, function_name: str) -> dict | None:
        try:
            return self.conn.get_function_event_invoke_config(FunctionName=function_name)
        except self.conn.exceptions.ResourceNotFoundException:
            return None

    def published_versions(self, function_name: str) -> list[dict]:
        """Every published version's configuration, newest first ($LATEST excluded)."""
        versions = [
            version
            for page in self.conn.get_paginator("list_versions_by_function").paginate(
                FunctionName=function_name
            )
            for version in page["Versions"]
            if version["Version"] != "$LATEST"
        ]
        return sorted(versions, key=lambda version: int(version["Version"]), reverse=True)

    def create_function_when_role_ready(self, **kwargs: Any) -> dict:
        """``create_function``, retried while IAM propagates a new role (AWS rejects it for seconds)."""
        for delay in (*ROLE_PROPAGATION_RETRY_S, None):
            try:
                return self.conn.create_function(**kwargs)
            except self.conn.exceptions.InvalidParameterValueException as error:
                if delay is None or ROLE_NOT_READY not in str(error):
                    raise
                self.log.info("IAM role not assumable yet; retrying create_function in %ss", delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def wait_until_updated(self, function_name: str, waiter_delay: int, waiter_max_attempts: int) -> None:
        """Block until State=Active and LastUpdateStatus=Successful (the deferrable path uses a trigger)."""
        self.conn.get_waiter("function_updated_v2").wait(
            FunctionName=function_name,
            WaiterConfig={"Delay": waiter_delay, "MaxAttempts": waiter_max_attempts},
        )

    def invoke_client_config(self, function: FunctionInfo, max_pool_connections: int = 10) -> Config:
        """The connection's botocore config plus the safe-invoke settings (see ``lambdapipe.invoking.invoker``)."""
        return invoke_client_config(function, self.config, max_pool_connections)

    async def async_invoke_client(self, function: FunctionInfo, max_pool_connections: int = 10) -> Any:
        """An aiobotocore Lambda client (an async context manager) configured for Invoke.

        Built on a worker thread, like the provider's ``get_async_conn``: reading the connection on
        the event loop can deadlock a triggerer (Python 3.11's ``cached_property`` lock is shared by
        every hook, and a threaded lookup holding it waits for the loop).
        """
        return await sync_to_async(self._invoke_client)(function, max_pool_connections)

    def _invoke_client(self, function: FunctionInfo, max_pool_connections: int) -> Any:
        return self.get_client_type(
            region_name=self.region_name,
            config=self.invoke_client_config(function, max_pool_connections),
            deferrable=True,
        )

    def function_info(self, function_name: str, qualifier: str | None = None) -> FunctionInfo:
        """Timeout, memory and architecture of the version that ``qualifier`` names."""
        configuration = self.get_configuration_or_none(function_name, qualifier)
        if configuration is None:
            region = self.conn_region_name
            if qualifier and self.get_configuration_or_none(function_name) is not None:
                raise FunctionNotFoundError(
                    f"Lambda function {function_name} has no version or alias {qualifier} (region {region})"
                )
            where = f"{function_name}:{qualifier}" if qualifier else function_name
            raise FunctionNotFoundError(f"Lambda function {where} does not exist (region {region})")
        return FunctionInfo.from_configuration(configuration)

    @property
    def conn_region_name(self) -> str:
        return self.conn.meta.region_name

    @property
    def endpoint_url(self) -> str:
        return self.conn.meta.endpoint_url

    def invoke_json(
        self, function_name: str, payload: Any, qualifier: str | None = None, max_throttle_retries: int = 8
    ) -> InvocationOutcome:
        """Invoke synchronously with a JSON payload, from code that is not async (the CLI, deploys).

        The operators' invoker and retry rules: only throttling and failures to connect are retried,
        so a function never runs twice because of a client retry.
        """

        function = self.function_info(function_name, qualifier)

        async def invoke() -> InvocationOutcome:
            async with await self.async_invoke_client(function) as client:
                invoker = Invoker(client, function, throttle_policy=ThrottlePolicy(max_throttle_retries))
                return await invoker.invoke(json.dumps(payload).encode(), qualifier)

        return asyncio.run(invoke())

    @cached_property
    def waiter_path(self) -> Path:
        """``get_waiter`` finds our custom waiters here first, then botocore's own."""
        return WAITERS_PATH

    def get_provisioned_concurrency_or_none(self, function_name: str, qualifier: str) -> dict | None:
        try:
            return self.conn.get_provisioned_concurrency_config(
                FunctionName=function_name, Qualifier=qualifier
            )
        except self.conn.exceptions.ProvisionedConcurrencyConfigNotFoundException:
            return None

    def wait_for_provisioned_concurrency(
        self, function_name: str, qualifier: str, cleared: bool, waiter_delay: int, waiter_max_attempts: int
    ) -> None:
        """Block until the config is READY (or gone, when ``cleared``); AirflowException on FAILED or timeout."""
        wait(
            waiter=self.get_waiter(
                PROVISIONED_CONCURRENCY_DELETED if cleared else PROVISIONED_CONCURRENCY_READY
            ),
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            args={"FunctionName": function_name, "Qualifier": qualifier},
            failure_message=f"Provisioned concurrency on {function_name}:{qualifier} failed",
            status_message=f"Provisioned concurrency on {function_name}:{qualifier}",
            status_args=["Status", "StatusReason"],
        )


def _qualifier(function_arn: str) -> str | None:
    """``live`` of ``arn:aws:lambda:r:a:function:name:live``; None for an unqualified ARN."""
    parts = function_arn.split(":")
    return parts[7] if len(parts) > 7 else None
