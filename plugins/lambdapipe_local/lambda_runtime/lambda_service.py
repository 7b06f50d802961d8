"""The local Lambda data plane: finds a function version in moto's control plane and runs it."""

from __future__ import annotations

import dataclasses
from typing import Any

from lambdapipe_local.lambda_runtime import ids
from lambdapipe_local.lambda_runtime.alias_routing import AliasRouter
from lambdapipe_local.lambda_runtime.async_invoke import (
    DEFAULT_MAX_EVENT_AGE_S,
    DEFAULT_MAX_RETRIES,
    AsyncEvent,
    AsyncInvoker,
    AsyncPolicy,
)
from lambdapipe_local.lambda_runtime.destinations import DestinationDelivery
from lambdapipe_local.lambda_runtime.function_spec import FunctionSpec
from lambdapipe_local.lambda_runtime.invoker import InvokeResult, LambdaExecutor
from lambdapipe_local.moto_backend.internal_clients import InternalClients


class LocalLambdaService:
    """Sync and async invocation of functions stored in moto, executed by our runtime."""

    def __init__(
        self, executor: LambdaExecutor, clients: InternalClients, async_options: dict | None = None
    ) -> None:
        self.executor = executor
        self.alias_router = AliasRouter()
        self.delivery = DestinationDelivery(clients, self.invoke_async_arn)
        self.async_invoker = AsyncInvoker(
            invoke=self._invoke_for_async,
            policy_for=self._async_policy,
            deliver=self.delivery,
            **(async_options or {}),
        )

    def resolve(
        self,
        account_id: str,
        region: str,
        name_or_arn: str,
        qualifier: str | None = None,
        route: bool = False,
    ) -> tuple[FunctionSpec, str]:
        """The function version to run and the ARN it was invoked by (qualified when a qualifier was used).

        ``route``: this is an invocation, so an alias with routing weights may send it to its other
        version (only invocations: a config read, a DryRun or a refused request takes no share).
        Raises moto's ResourceNotFoundException when the function, version or alias does not exist.
        """
        backend = _lambda_backend(account_id, region)
        name, qualifier = _split_name(name_or_arn, qualifier)
        fn = backend.get_function(name, qualifier)
        if route and _is_alias(qualifier):
            alias = backend.get_alias(qualifier, name)
            version = self.alias_router.version_for(f"{account_id}:{region}:{name}:{qualifier}", alias)
            if version != fn.version:
                fn = backend.get_function(name, version)
        spec = FunctionSpec.from_moto(fn, backend.layers_versions_by_arn)
        if qualifier:
            # Reserved concurrency belongs to the function, not to a version (moto copies it at publish).
            reserved = backend.get_function(name).reserved_concurrency
            spec = dataclasses.replace(spec, reserved_concurrency=None if reserved is None else int(reserved))
        invoked_arn = spec.function_arn + (f":{qualifier}" if qualifier else "")
        return spec, invoked_arn

    def routed(
        self,
        spec: FunctionSpec,
        invoked_arn: str,
        account_id: str,
        region: str,
        name_or_arn: str,
        qualifier: str | None = None,
    ) -> tuple[FunctionSpec, str]:
        """``resolve``'s answer for an invocation: unchanged unless an alias's weights send it elsewhere
        (so the hot path resolves once for everything but aliases)."""
        _, qualifier = _split_name(name_or_arn, qualifier)
        if not _is_alias(qualifier):
            return spec, invoked_arn
        return self.resolve(account_id, region, name_or_arn, qualifier, route=True)

    def invoke(
        self,
        spec: FunctionSpec,
        event: bytes,
        invoked_arn: str,
        client_context: str | None = None,
        request_id: str | None = None,
    ) -> InvokeResult:
        return self.executor.invoke(spec, event, invoked_arn, client_context, request_id)

    def invoke_async(self, spec: FunctionSpec, event: bytes, invoked_arn: str) -> str:
        request_id = ids.request_id()
        self.async_invoker.submit(AsyncEvent(spec, invoked_arn, event, request_id))
        return request_id

    def invoke_async_arn(self, function_arn: str, event: bytes) -> str:
        """Queue an event for a function named by ARN: what S3, SNS and destinations do."""
        parts = function_arn.split(":")
        spec, invoked_arn = self.resolve(parts[4], parts[3], function_arn, route=True)
        return self.invoke_async(spec, event, invoked_arn)

    def close(self) -> None:
        self.async_invoker.close()
        self.executor.close()

    def _invoke_for_async(
        self, spec: FunctionSpec, event: bytes, invoked_arn: str, request_id: str
    ) -> InvokeResult:
        return self.executor.invoke(spec, event, invoked_arn, request_id=request_id)

    def _async_policy(self, spec: FunctionSpec) -> AsyncPolicy:
        fn = _lambda_backend(spec.account_id, spec.region).get_function(spec.function_name)
        config: dict[str, Any] = fn.event_invoke_config[0].config if fn.event_invoke_config else {}
        destinations = config.get("DestinationConfig") or {}
        return AsyncPolicy(
            max_retries=int(config.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES)),
            max_event_age_s=int(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_S)),
            on_success=(destinations.get("OnSuccess") or {}).get("Destination") or None,
            on_failure=(destinations.get("OnFailure") or {}).get("Destination") or None,
            dead_letter_arn=(getattr(fn, "dead_letter_config", None) or {}).get("TargetArn") or None,
        )


def _lambda_backend(account_id: str, region: str) -> Any:
    from moto.awslambda.models import lambda_backends

    return lambda_backends[account_id][region]


def _is_alias(qualifier: str | None) -> bool:
    """A qualifier that names an alias: not a version number, not $LATEST (alias names are never all digits)."""
    return bool(qualifier) and qualifier != "$LATEST" and not qualifier.isdigit()


def _split_name(name_or_arn: str, qualifier: str | None) -> tuple[str, str | None]:
    """Accept ``name``, ``name:qualifier``, and full or partial ARNs, as Invoke does."""
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        name = parts[6]
        if len(parts) > 7:
            qualifier = parts[7]
    elif ":" in name_or_arn:
        name, qualifier = name_or_arn.split(":", 1)
    else:
        name = name_or_arn
    return name, qualifier
