"""Provisioned concurrency for the local Lambda: the four API operations moto lacks, on real environments.

``PutProvisionedConcurrencyConfig`` answers ``IN_PROGRESS`` at once; a background thread starts that
many execution environments of the version the qualifier resolves to and waits until each runtime
polls ``/invocation/next`` for the first time (its init is done). Then the config is ``READY`` and the
environments sit pinned in the EnvironmentPool: invocations of that version reuse them (no
``Init Duration``) and the idle reaper leaves them alone until the config is deleted or changed. An
init failure makes it ``FAILED``, with the error in ``StatusReason``.

State is kept per LocalLambdaService (``LocalAws.start`` and ``reset`` create a new one), keyed by
(account, region, function, qualifier). As on AWS, moving an alias re-allocates for the new version:
here that happens the next time the config is read.
"""

from __future__ import annotations

import json
import threading
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from moto.awslambda.exceptions import InvalidParameterValueException, LambdaClientError
from moto.awslambda.models import lambda_backends

from lambdapipe_local.front.aws_request import bare_function_name
from lambdapipe_local.lambda_runtime.environment import ExecutionEnvironment
from lambdapipe_local.lambda_runtime.function_spec import FunctionSpec
from lambdapipe_local.lambda_runtime.lambda_service import LocalLambdaService
from lambdapipe_local.moto_backend import moto_integration

IN_PROGRESS, READY, FAILED = "IN_PROGRESS", "READY", "FAILED"
INIT_FAILURE = "FUNCTION_ERROR_INIT_FAILURE"
ROUTE = r"{0}/(?P<api_version>[^/]+)/functions/(?P<function_name>[\w_:%-]+)/provisioned-concurrency/?$"
# AWS words the $LATEST refusal differently for writes and for reads.
UNPUBLISHED_PUT = "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
UNPUBLISHED_READ = "The function resource provided must be an alias or a published version."

Key = tuple[str, str, str, str]  # account, region, function name, qualifier
Response = tuple[int, dict[str, str], str]


class ProvisionedConcurrencyConfigNotFound(LambdaClientError):
    code = 404

    def __init__(self) -> None:
        super().__init__(
            "ProvisionedConcurrencyConfigNotFoundException",
            "No Provisioned Concurrency Config found for this function",
        )


class ResourceConflict(LambdaClientError):
    code = 409

    def __init__(self, message: str) -> None:
        super().__init__("ResourceConflictException", message)


@dataclass
class _Allocation:
    """One qualifier's config and the environments provisioned for it."""

    function_arn: str  # qualified by the alias or version, as ListProvisionedConcurrencyConfigs shows it
    requested: int
    pool_key: tuple[str, str, str]  # the version (and code) the environments run
    last_modified: str = ""
    status: str = IN_PROGRESS
    reason: str | None = None
    environments: list[ExecutionEnvironment] = field(default_factory=list)
    # Bumped by every put and delete: a provisioning thread whose generation is stale drops its work.
    generation: int = 0

    def describe(self) -> dict[str, Any]:
        allocated = min(sum(env.alive for env in self.environments), self.requested)
        body = {
            "RequestedProvisionedConcurrentExecutions": self.requested,
            "AvailableProvisionedConcurrentExecutions": allocated,
            "AllocatedProvisionedConcurrentExecutions": allocated,
            "Status": self.status,
            "LastModified": self.last_modified,
        }
        return body | ({"StatusReason": self.reason} if self.reason else {})


class ProvisionedConcurrency:
    """The configs of one local Lambda service and the pinned environments behind them."""

    def __init__(self, service: LocalLambdaService) -> None:
        self._service = service
        self._pool = service.executor.pool
        self._lock = threading.Lock()
        self._configs: dict[Key, _Allocation] = {}

    def put(self, account: str, region: str, function_name: str, qualifier: str, requested: int) -> dict:
        spec, arn = self._resolve(account, region, function_name, qualifier, UNPUBLISHED_PUT)
        if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
            raise InvalidParameterValueException(
                f"ProvisionedConcurrentExecutions must be a positive integer, got {requested!r}"
            )
        # Reserved concurrency belongs to the function: a version copied it when it was published.
        reserved = lambda_backends[account][region].get_function(spec.function_name).reserved_concurrency
        if reserved is not None and requested > int(reserved):
            raise InvalidParameterValueException(
                f"Requested Provisioned Concurrency ({requested}) should not be greater than the "
                f"reservedConcurrentExecution ({reserved}) for function {spec.function_name}"
            )
        key = (account, region, spec.function_name, qualifier)
        with self._lock:
            self._check_conflict(key, spec)
            allocation = self._configs.get(key)
            if allocation is None:
                allocation = self._configs[key] = _Allocation(arn, requested, spec.pool_key)
            allocation.requested = requested
            allocation.last_modified = _now()
            self._start(key, allocation, spec)
            return allocation.describe()

    def get(self, account: str, region: str, function_name: str, qualifier: str) -> dict:
        spec, _ = self._resolve(account, region, function_name, qualifier, UNPUBLISHED_READ)
        key = (account, region, spec.function_name, qualifier)
        with self._lock:
            allocation = self._configs.get(key)
            if allocation is None:
                raise ProvisionedConcurrencyConfigNotFound()
            self._follow_alias(key, allocation, spec)
            return allocation.describe()

    def delete(self, account: str, region: str, function_name: str, qualifier: str) -> None:
        """Release the environments; deleting an absent config is not an error (as on AWS)."""
        spec, _ = self._resolve(account, region, function_name, qualifier, UNPUBLISHED_READ)
        self._forget((account, region, spec.function_name, qualifier))

    def list(self, account: str, region: str, function_name: str) -> list[dict]:
        name = bare_function_name(function_name)
        lambda_backends[account][region].get_function(name)  # ResourceNotFoundException if absent
        with self._lock:
            keys = [key for key in self._configs if key[:3] == (account, region, name)]
        items = []
        for key in keys:
            try:
                spec, _ = self._resolve(*key, UNPUBLISHED_READ)
            except LambdaClientError:  # its alias or version was deleted since: so is the config
                self._forget(key)
                continue
            with self._lock:
                allocation = self._configs.get(key)
                if allocation is not None:
                    self._follow_alias(key, allocation, spec)
                    items.append({"FunctionArn": allocation.function_arn, **allocation.describe()})
        return items

    def _forget(self, key: Key) -> None:
        with self._lock:
            allocation = self._configs.pop(key, None)
            if allocation is None:
                return
            allocation.generation += 1
            released, allocation.environments = allocation.environments, []
        self._pool.unpin(released)

    def _resolve(
        self, account: str, region: str, function_name: str, qualifier: str | None, unpublished: str
    ) -> tuple[FunctionSpec, str]:
        """The published version a qualifier names; moto's ResourceNotFoundException for unknown names."""
        if not qualifier or qualifier == "$LATEST":
            raise InvalidParameterValueException(unpublished)
        name = bare_function_name(function_name)
        backend = lambda_backends[account][region]
        backend.get_function(name)
        if not qualifier.isdigit() and backend.get_alias(qualifier, name).function_version == "$LATEST":
            raise InvalidParameterValueException(unpublished)
        return self._service.resolve(account, region, name, qualifier)

    def _check_conflict(self, key: Key, spec: FunctionSpec) -> None:
        """An alias and the version it points to cannot both be provisioned (caller holds the lock)."""
        account, region, name, qualifier = key
        for (other_account, other_region, other_name, other), allocation in self._configs.items():
            if (other_account, other_region, other_name) != (account, region, name) or other == qualifier:
                continue
            if not qualifier.isdigit() and other == spec.version:
                raise ResourceConflict(
                    "Alias can't be used for Provisioned Concurrency configuration on an already "
                    "Provisioned version"
                )
            if qualifier.isdigit() and not other.isdigit() and allocation.pool_key[1] == qualifier:
                raise ResourceConflict("Version is pointed by a Provisioned Concurrency alias")

    def _follow_alias(self, key: Key, allocation: _Allocation, spec: FunctionSpec) -> None:
        """Re-allocate when the alias now points elsewhere (caller holds the lock)."""
        if allocation.pool_key != spec.pool_key:
            self._start(key, allocation, spec)

    def _start(self, key: Key, allocation: _Allocation, spec: FunctionSpec) -> None:
        """Mark the config IN_PROGRESS and provision in the background (caller holds the lock)."""
        allocation.generation += 1
        allocation.status, allocation.reason, allocation.pool_key = IN_PROGRESS, None, spec.pool_key
        threading.Thread(
            target=self._provision,
            args=(key, allocation, allocation.generation, spec),
            daemon=True,
            name=f"provision-{spec.function_name}:{key[3]}",
        ).start()

    def _provision(self, key: Key, allocation: _Allocation, generation: int, spec: FunctionSpec) -> None:
        with self._lock:
            if allocation.generation != generation:
                return  # a later put, delete or alias move owns the allocation now
            usable = [
                env for env in allocation.environments if env.alive and env.spec.pool_key == spec.pool_key
            ]
            kept = usable[: allocation.requested]
            released = [env for env in allocation.environments if env not in kept]
            allocation.environments = kept
            missing = allocation.requested - len(kept)
        self._pool.unpin(released)
        started = [self._pool.spawn(spec) for _ in range(missing)]  # they initialize in parallel
        errors = [error for error in (env.initialize_provisioned() for env in started) if error is not None]
        with self._lock:
            current = allocation.generation == generation and self._configs.get(key) is allocation
            if current and not errors and self._pool.pin(spec, started):
                allocation.environments += started
                allocation.status = READY
                return
            if current:
                allocation.status = FAILED
                allocation.reason = _failure_reason(errors[0]) if errors else "the local Lambda stopped"
                released, allocation.environments = allocation.environments, []
            else:
                released = []
        self._pool.unpin(released)
        for env in started:
            env.close()


def _failure_reason(error: dict) -> str:
    return f"{INIT_FAILURE}: {error.get('errorType', 'Unknown')}: {error.get('errorMessage', '')}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


_stores: weakref.WeakKeyDictionary[LocalLambdaService, ProvisionedConcurrency] = weakref.WeakKeyDictionary()
_stores_lock = threading.Lock()


def current_store() -> ProvisionedConcurrency:
    """The running service's configs; a new service (start, reset) starts with none."""
    service = moto_integration.current_service()
    with _stores_lock:
        store = _stores.get(service)
        if store is None:
            store = _stores[service] = ProvisionedConcurrency(service)
        return store


def install_api() -> None:
    """Route ``/{version}/functions/{name}/provisioned-concurrency`` to moto's Lambda app and add the methods.

    Must run before moto builds its Lambda app (the first Lambda request), which reads ``url_paths``.
    moto's dispatcher names the operation from botocore's model and calls the snake_case method.
    """
    from moto.awslambda import urls
    from moto.awslambda.responses import LambdaResponse

    urls.url_paths[ROUTE] = LambdaResponse.dispatch
    LambdaResponse.put_provisioned_concurrency_config = _put_response
    LambdaResponse.get_provisioned_concurrency_config = _get_response
    LambdaResponse.delete_provisioned_concurrency_config = _delete_response
    LambdaResponse.list_provisioned_concurrency_configs = _list_response


def _put_response(self: Any) -> Response:
    body = json.loads(self.body or "{}")
    config = current_store().put(
        self.current_account, self.region, *_target(self), body.get("ProvisionedConcurrentExecutions")
    )
    return _json(202, config)


def _get_response(self: Any) -> Response:
    return _json(200, current_store().get(self.current_account, self.region, *_target(self)))


def _delete_response(self: Any) -> Response:
    current_store().delete(self.current_account, self.region, *_target(self))
    return 204, {"status": "204"}, ""


def _list_response(self: Any) -> Response:
    items = current_store().list(self.current_account, self.region, _target(self)[0])
    marker = int(self.querystring.get("Marker", ["0"])[0] or 0)
    max_items = int(self.querystring.get("MaxItems", ["50"])[0] or 50)
    page = {"ProvisionedConcurrencyConfigs": items[marker : marker + max_items]}
    if marker + max_items < len(items):
        page["NextMarker"] = str(marker + max_items)
    return _json(200, page)


def _target(response: Any) -> tuple[str, str | None]:
    function_name = unquote(response.path.split("?")[0].rstrip("/").rsplit("/", 2)[-2])
    return function_name, response.querystring.get("Qualifier", [None])[0]


def _json(status: int, body: dict) -> Response:
    """moto takes the status code from a ``status`` header, not from the tuple."""
    return status, {"status": str(status), "content-type": "application/json"}, json.dumps(body)
