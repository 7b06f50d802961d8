"""Operators for AWS Lambda: deploy a function folder idempotently, manage provisioned concurrency."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, conf
from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR

from lambdapipe.deploy.deployer import DeployState, FunctionDeployer
from lambdapipe.deploy.provisioned_concurrency import ProvisionedConcurrency, environment_count
from lambdapipe.deploy.traffic_shift import DeploymentRolledBack, DeploymentStopped, DeploymentSuperseded
from lambdapipe.hooks.iam import IamHook
from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.triggers.lambda_function import (
    LambdaFunctionUpdatedTrigger,
    LambdaProvisionedConcurrencyTrigger,
    LambdaTrafficStepTrigger,
)

# How long past a traffic step's wait the triggerer may take to hand the task back before it times out.
TRAFFIC_STEP_GRACE_SECONDS = 600

if TYPE_CHECKING:
    from airflow.sdk import Context

    from lambdapipe.deploy.deployer import DeployState, FunctionDeployer


class LambdaDeployFunctionOperator(AwsBaseOperator[LambdaHook]):
    """Deploy ``lambda_functions/<name>/`` and move its alias, doing nothing when nothing changed.

    Builds the reproducible package, ensures the execution role from the manifest's permissions,
    creates the function or updates only what differs (code by CodeSha256, configuration by field),
    waits until Lambda applied it, publishes a version, invokes every saved test event against that
    version and only then moves the alias. A failing smoke test leaves the alias where it was and
    fails the task naming the event. A rerun with nothing changed makes no write call.

    The manifest's ``deployment`` moves the alias in steps (``Canary10Percent5Minutes``, custom steps)
    with a health check of the new version after each: deferrable, the steps wait in the triggerer. A
    breach or a failed hook puts the alias back on the old version and fails the task with the figures,
    without retries (a retry would send the same version traffic again). A failed alias write, a killed
    task or a step's trigger timing out put it back too, and keep the task's retries.

    :param function_dir: The function folder (with ``function.toml``). Templated.
    :param overrides: Manifest fields to override, e.g. ``{"memory": 1024}``. Templated.
    :param alias: Alias to move (default: the manifest's ``alias``, itself defaulting to ``live``).
    :param publish: Publish a version and move the alias (False: deploy ``$LATEST`` only).
    :param smoke_test: True to invoke every ``events/*.json``, False for none, or a list of event names.
    :param role_arn: Use this existing execution role instead of managing ``lambdapipe-<name>``.
    :param s3_bucket: Bucket for packages above Lambda's 50 MB direct-upload limit.
    :param deferrable: Wait for Lambda's updates in the triggerer.
    :param waiter_delay: Seconds between status checks.
    :param waiter_max_attempts: Status checks before giving up.
    :return: ``{function_name, function_arn, version, code_sha256, changed, alias, smoke_tests,
        endpoints, deployment}``: ``deployment`` lists each traffic step's health, then 100%.
    """

    aws_hook_class = LambdaHook
    template_fields: Sequence[str] = aws_template_fields(
        "function_dir", "overrides", "alias", "role_arn", "s3_bucket"
    )
    template_fields_renderers = {"overrides": "json"}
    ui_color = "#ff9900"

    def __init__(
        self,
        *,
        function_dir: str | Path,
        overrides: dict[str, Any] | None = None,
        alias: str | None = None,
        publish: bool = True,
        smoke_test: bool | list[str] = True,
        role_arn: str | None = None,
        s3_bucket: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        waiter_delay: int = 2,
        waiter_max_attempts: int = 150,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.function_dir = str(function_dir)
        self.overrides = overrides or {}
        self.alias = alias
        self.publish = publish
        self.smoke_test = smoke_test
        self.role_arn = role_arn
        self.s3_bucket = s3_bucket
        self.deferrable = deferrable
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Context) -> dict[str, Any]:
        deployer = self._deployer()
        if not self.deferrable:
            with _no_retry_after_a_verdict():
                return self._report(deployer.run().to_dict())
        return self._continue(deployer, deployer.start())

    def on_kill(self) -> None:
        """Killed (marked failed, SIGTERM, execution_timeout) mid-shift: the alias back on the old version."""
        self._deployer().abandon_shift(f"task {self.task_id} was killed")

    def resume_execution(
        self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context
    ) -> dict[str, Any]:
        """A trigger that timed out or failed mid-shift fails the task: put the alias back first."""
        if next_method == TRIGGER_FAIL_REPR:
            self._deployer().abandon_shift(f"task {self.task_id}'s trigger failed or timed out")
        return super().resume_execution(next_method, next_kwargs, context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger saw the function ready: next write, or the release."""
        deployer = self._deployer()
        return self._continue(deployer, deployer.resume(self._resumed_state(event)))

    def execute_traffic_step(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after a traffic step's wait: health check, then the next step, 100% or a rollback."""
        deployer = self._deployer()
        with _no_retry_after_a_verdict():
            state = deployer.advance(self._resumed_state(event))
        return self._continue(deployer, state)

    def _resumed_state(self, event: dict[str, Any] | None) -> DeployState:
        if not event or event.get("status") != "success":
            raise AirflowException(f"Waiting for Lambda function {self.function_dir} failed: {event}")
        return DeployState.from_dict(event["deploy_state"])

    def _continue(self, deployer: FunctionDeployer, state: DeployState) -> dict[str, Any]:
        """Defer while Lambda applies a write or a traffic step runs; otherwise the next step."""
        if state.awaiting_update:
            self._defer_until_updated(state)
        if state.version is None:
            with _no_retry_after_a_verdict():
                state = deployer.release(state)
        if not state.traffic_wait_seconds:
            return self._report(deployer.finish(state).to_dict())
        wait = state.traffic_wait_seconds
        step_ends_at = (datetime.now(UTC) + timedelta(seconds=wait)).isoformat()
        self.defer(
            trigger=LambdaTrafficStepTrigger(deploy_state=state.to_dict(), step_ends_at=step_ends_at),
            method_name="execute_traffic_step",
            timeout=timedelta(seconds=wait + TRAFFIC_STEP_GRACE_SECONDS),
        )

    def _defer_until_updated(self, state: DeployState) -> NoReturn:
        self.defer(
            trigger=LambdaFunctionUpdatedTrigger(
                function_name=state.function_name,
                deploy_state=state.to_dict(),
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.waiter_delay * self.waiter_max_attempts),
        )

    def _deployer(self) -> FunctionDeployer:
        s3_hook = None
        if self.s3_bucket:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook

            s3_hook = S3Hook(**self._hook_parameters)
        return FunctionDeployer(
            function_dir=Path(self.function_dir),
            lambda_hook=self.hook,
            iam_hook=IamHook(**self._hook_parameters),
            overrides=self.overrides,
            alias=self.alias,
            publish=self.publish,
            smoke_test=self.smoke_test,
            role_arn=self.role_arn,
            s3_bucket=self.s3_bucket,
            s3_hook=s3_hook,
            waiter_delay=self.waiter_delay,
            waiter_max_attempts=self.waiter_max_attempts,
        )

    def _report(self, result: dict[str, Any]) -> dict[str, Any]:
        self.log.info(
            "%s: version %s (%s), alias %s, code %s",
            result["function_name"],
            result["version"],
            "changed" if result["changed"] else "unchanged",
            result["alias"],
            result["code_sha256"],
        )
        return result


@contextmanager
def _no_retry_after_a_verdict() -> Iterator[None]:
    """A rolled-back, stopped or superseded deployment fails the task for good: an automatic retry would
    send the same version traffic again, or fight whoever moved the alias. Other errors (throttling, a
    network error) keep the task's retries."""
    try:
        yield
    except (DeploymentRolledBack, DeploymentStopped, DeploymentSuperseded) as verdict:
        raise AirflowFailException(str(verdict)) from verdict


class LambdaProvisionedConcurrencyOperator(AwsBaseOperator[LambdaHook]):
    """Set an alias's provisioned concurrency, or clear it with 0, and wait until Lambda has applied it.

    For batch windows: raise it before a burst so invocations skip cold starts, clear it afterwards so
    it stops costing. Idempotent: no write when the config already asks for that many (a FAILED one is
    put again, which retries the allocation), and clearing an absent config does nothing. Fails with
    Lambda's ``StatusReason`` when the allocation FAILED (typically the function's init failed).

    :param function_name: The function name or ARN. Templated.
    :param qualifier: The alias (or published version) to provision. Templated.
    :param provisioned_concurrency: Execution environments to keep initialized; 0 deletes the config.
        Templated.
    :param wait_for_completion: Wait until ``READY`` (or deleted); False returns right after the write.
    :param deferrable: Wait in the triggerer.
    :param waiter_delay: Seconds between status checks.
    :param waiter_max_attempts: Status checks before giving up.
    :return: ``{function_name, qualifier, requested, allocated, status, changed}``: status is Lambda's
        (``READY``; ``IN_PROGRESS`` when not waiting) or ``DELETED`` once cleared.
    """

    aws_hook_class = LambdaHook
    template_fields: Sequence[str] = aws_template_fields(
        "function_name", "qualifier", "provisioned_concurrency"
    )
    ui_color = "#ff9900"

    def __init__(
        self,
        *,
        function_name: str,
        qualifier: str,
        provisioned_concurrency: int,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        waiter_delay: int = 5,
        waiter_max_attempts: int = 120,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not isinstance(provisioned_concurrency, str):  # a template is checked once rendered
            environment_count(provisioned_concurrency, self.task_id)
        self.function_name = function_name
        self.qualifier = qualifier
        self.provisioned_concurrency = provisioned_concurrency
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts

    def execute(self, context: Context) -> dict[str, Any]:
        requested = environment_count(self.provisioned_concurrency, self.task_id)
        target = self._target()
        config = target.current()
        changed = target.apply(requested, config)
        settled = not changed and (config is None or config["Status"] == "READY")
        if settled or not self.wait_for_completion:
            return target.result(requested, changed, None if changed else config)
        if self.deferrable:
            self._defer(requested, changed)
        try:
            self.hook.wait_for_provisioned_concurrency(
                self.function_name,
                self.qualifier,
                requested == 0,
                self.waiter_delay,
                self.waiter_max_attempts,
            )
        except AirflowException as error:
            raise target.failure(requested, error) from error
        return target.result(requested, changed)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger saw the config READY (or gone), or fail with Lambda's reason."""
        requested = environment_count(self.provisioned_concurrency, self.task_id)
        target = self._target()
        if not event or event.get("status") != "success":
            error = AirflowException((event or {}).get("message", "the trigger sent no event"))
            raise target.failure(requested, error) from error
        return target.result(requested, bool(event.get("changed")))

    def _target(self) -> ProvisionedConcurrency:
        return ProvisionedConcurrency(self.hook, self.function_name, self.qualifier)

    def _defer(self, requested: int, changed: bool) -> NoReturn:
        self.defer(
            trigger=LambdaProvisionedConcurrencyTrigger(
                function_name=self.function_name,
                qualifier=self.qualifier,
                provisioned_concurrency=requested,
                changed=changed,
                waiter_delay=self.waiter_delay,
                waiter_max_attempts=self.waiter_max_attempts,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.waiter_delay * self.waiter_max_attempts),
        )
