"""Idempotent deployment of one ``lambda_functions/<name>/`` folder: role, layers (``layers``), code,
configuration, version, smoke tests, alias (at once, or in steps with health checks:
``traffic_shift``), then the HTTP endpoints of ``[http]`` (``http_endpoints``). Used by
``LambdaDeployFunctionOperator`` and ``lambdapipe deploy``.

A deploy is a few steps separated by waits (Lambda applies code and configuration updates
asynchronously; a traffic step runs for minutes). ``DeployState`` carries what a step decided to the next, so the waits can run in a
trigger. Every decision compares desired with actual first: a rerun with nothing changed makes read
calls only.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from lambdapipe.deploy.alias import point_alias, settled_on
from lambdapipe.deploy.errors import DeployError
from lambdapipe.deploy.event_invoke import ensure_event_invoke_config
from lambdapipe.deploy.http_endpoints import Clients, HttpEndpoints
from lambdapipe.deploy.layers import ensure_layers
from lambdapipe.deploy.smoke_tests import run_smoke_tests
from lambdapipe.deploy.traffic_shift import (
    ShiftState,
    TrafficShift,
    pending_post_hook,
    put_back_split_alias,
)
from lambdapipe.hooks.iam import IamHook
from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.packaging import (
    BuildResult,
    Manifest,
    build_package,
    lambda_api,
    load_manifest,
)

log = logging.getLogger(__name__)


@dataclass
class DeployState:
    """What the steps so far did; JSON-serializable so a trigger can carry it across a deferral."""

    function_name: str
    function_arn: str
    code_sha256: str
    role_arn: str
    changed: bool
    # A Lambda write was just made: wait for State=Active / LastUpdateStatus=Successful before going on.
    awaiting_update: bool = False
    pending_configuration: bool = False
    layer_arns: list[str] = field(default_factory=list)  # the manifest's layers, as published versions
    version: str | None = None  # what the alias should end on, once ``release`` chose it
    smoke_tests: list[str] = field(default_factory=list)
    shift: dict[str, Any] | None = None  # ShiftState.to_dict() while the alias moves in steps

    @property
    def traffic_wait_seconds(self) -> int:
        """How long the current traffic step runs before ``advance``; 0 when the alias is settled."""
        return ShiftState.from_dict(self.shift).wait_seconds if self.shift else 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeployState:
        return cls(**data)


@dataclass(frozen=True)
class DeployResult:
    """The task's XCom: small, and enough for downstream tasks to invoke exactly what was deployed."""

    function_name: str
    function_arn: str
    version: str
    code_sha256: str
    changed: bool
    alias: str | None
    smoke_tests: list[str] = field(default_factory=list)
    endpoints: dict[str, str] = field(default_factory=dict)  # [http]: kind -> base URL
    deployment: list[str] = field(default_factory=list)  # each traffic step's health, then 100%

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class FunctionDeployer:
    """Deploys one function folder with the given hooks. ``run()`` waits synchronously."""

    function_dir: Path
    lambda_hook: LambdaHook
    iam_hook: IamHook
    overrides: dict[str, Any] = field(default_factory=dict)
    alias: str | None = None
    publish: bool = True
    smoke_test: bool | list[str] = True
    role_arn: str | None = None
    s3_bucket: str | None = None
    s3_hook: Any = None
    waiter_delay: int = 2
    waiter_max_attempts: int = 150

    def __post_init__(self) -> None:
        self.function_dir = Path(self.function_dir)
        self.manifest: Manifest = load_manifest(self.function_dir)
        if self.overrides:
            self.manifest = dataclasses.replace(self.manifest, **self.overrides)

    @property
    def alias_name(self) -> str | None:
        if not self.publish:
            return None
        return self.alias or self.manifest.alias

    def run(self) -> DeployResult:
        state = self.start()
        while state.awaiting_update:
            self.lambda_hook.wait_until_updated(
                state.function_name, self.waiter_delay, self.waiter_max_attempts
            )
            state = self.resume(state)
        try:  # from the release on: an interrupt just after the first step's alias write counts too
            state = self.release(state)
            while state.traffic_wait_seconds:
                time.sleep(state.traffic_wait_seconds)
                state = self.advance(state)
        except BaseException as stopped:  # Ctrl-C, Airflow's execution_timeout, SystemExit
            if not isinstance(stopped, DeployError):  # a DeployError settled the alias already
                self.abandon_shift(f"the deploy stopped mid-step ({type(stopped).__name__})")
            raise
        return self.finish(state)

    def abandon_shift(self, reason: str) -> None:
        """Put the alias back on its old version alone if a deployment is half-way: the deploy stops
        here (killed, timed out), and a split nobody watches is worse than the old version."""
        alias = self.alias_name
        if alias is None:
            return
        try:
            put_back_split_alias(self.lambda_hook, self.manifest.name, alias, reason)
        except Exception as error:  # the deploy is ending anyway: say so, do not hide why it ended
            log.error(
                "%s: could not put alias %s back on its old version: %s", self.manifest.name, alias, error
            )

    def resume(self, state: DeployState) -> DeployState:
        """After a wait: apply the configuration if a code update had to go first."""
        state.awaiting_update = False
        if state.pending_configuration:
            return self.apply_configuration(state)
        return state

    def start(self) -> DeployState:
        """Role, package, then at most one Lambda write; the caller waits while ``awaiting_update``."""
        role_arn, role_changed = self._ensure_role()
        package = build_package(self.function_dir, manifest=self.manifest)
        log.info(
            "%s: package %s (%d files, %.1f MB zipped)",
            self.manifest.name,
            package.code_sha256,
            package.file_count,
            package.zipped_size / 1e6,
        )
        current = self.lambda_hook.get_configuration_or_none(self.manifest.name)
        attached = tuple(layer["Arn"] for layer in (current or {}).get("Layers") or [])
        layer_arns, layer_published = ensure_layers(
            self.manifest, self.function_dir, self.lambda_hook.conn, attached
        )
        if current is None:
            created = self.lambda_hook.create_function_when_role_ready(
                **lambda_api.create_function_kwargs(self.manifest, role_arn, self._code(package), layer_arns)
            )
            log.info("%s: created", self.manifest.name)
            return DeployState(
                self.manifest.name,
                created["FunctionArn"],
                package.code_sha256,
                role_arn,
                True,
                awaiting_update=True,
                layer_arns=list(layer_arns),
            )
        config_differs = bool(lambda_api.configuration_changes(self.manifest, role_arn, current, layer_arns))
        code_differs = current["CodeSha256"] != package.code_sha256 or lambda_api.architecture_changed(
            self.manifest, current
        )
        if self.publish and (code_differs or config_differs):
            self._warn_about_latest_triggers(self.manifest.name)
        state = DeployState(
            self.manifest.name,
            current["FunctionArn"],
            package.code_sha256,
            role_arn,
            role_changed or layer_published,
            layer_arns=list(layer_arns),
        )
        self._ensure_managed_tag(current["FunctionArn"])
        if code_differs:
            self.lambda_hook.conn.update_function_code(
                **lambda_api.update_code_kwargs(self.manifest, self._code(package))
            )
            log.info(
                "%s: code updated (%s -> %s)", self.manifest.name, current["CodeSha256"], package.code_sha256
            )
            state.changed = state.awaiting_update = True
            state.pending_configuration = config_differs
            return state
        if config_differs:
            return self.apply_configuration(state)
        return state

    def apply_configuration(self, state: DeployState) -> DeployState:
        """Update the configuration; the caller waits for it to apply."""
        current = self.lambda_hook.get_configuration_or_none(state.function_name) or {}
        layers = tuple(state.layer_arns)
        changes = lambda_api.configuration_changes(self.manifest, state.role_arn, current, layers)
        if changes:
            self.lambda_hook.conn.update_function_configuration(
                **lambda_api.function_configuration(self.manifest, state.role_arn, layers)
            )
            log.info("%s: configuration updated (%s)", state.function_name, ", ".join(sorted(changes)))
            state.changed = state.awaiting_update = True
        state.pending_configuration = False
        return state

    def release(self, state: DeployState) -> DeployState:
        """Event-invoke config, version, smoke tests, then the alias: moved at once, or the first step
        of ``deployment`` begun (the caller waits ``traffic_wait_seconds`` and calls ``advance``)."""
        state.changed |= ensure_event_invoke_config(self.lambda_hook, self.manifest, state.function_arn)
        if not self.publish:
            state.version = "$LATEST"
            state.smoke_tests = self._smoke_test(state.function_name, "$LATEST") if state.changed else []
            return state
        version, published = self._target_version(state)
        state.changed |= published
        state.version = version
        alias = self.alias_name
        assert alias is not None
        current_alias = self.lambda_hook.get_alias_or_none(state.function_name, alias)
        if current_alias is not None and settled_on(current_alias, version):
            pending = pending_post_hook(current_alias)
            if pending is not None:
                shift = self._traffic_shift(state).resume_post_hook(self.manifest.deployment, alias, *pending)
                state.changed, state.shift = True, shift.to_dict()
            return state
        state.smoke_tests = self._smoke_test(state.function_name, version)
        state.changed = True
        previous = current_alias["FunctionVersion"] if current_alias else None
        if previous is None or previous == version:  # nothing to shift from (SAM's first deploy too)
            point_alias(self.lambda_hook.conn, state.function_name, alias, version, current_alias)
            return state
        split = not settled_on(current_alias, previous)
        shift = self._traffic_shift(state).begin(self.manifest.deployment, alias, previous, version, split)
        state.shift = shift.to_dict()
        return state

    def advance(self, state: DeployState) -> DeployState:
        """After a traffic step's wait: check the new version's health, then the next step or 100%."""
        assert state.shift is not None
        state.shift = self._traffic_shift(state).advance(ShiftState.from_dict(state.shift)).to_dict()
        return state

    def finish(self, state: DeployState) -> DeployResult:
        """The HTTP endpoints, once the alias is where the deploy wants it, and the result."""
        alias = self.alias_name
        target = f"{state.function_arn}:{alias}" if alias else state.function_arn
        endpoints = self._ensure_endpoints(state, target)
        return DeployResult(
            state.function_name,
            state.function_arn,
            state.version or "$LATEST",
            state.code_sha256,
            state.changed,
            alias,
            state.smoke_tests,
            endpoints,
            ShiftState.from_dict(state.shift).history if state.shift else [],
        )

    def _traffic_shift(self, state: DeployState) -> TrafficShift:
        return TrafficShift(self.lambda_hook, self._client("cloudwatch"), state.function_name)

    def http_endpoints(self, target_arn: str) -> HttpEndpoints:
        """The manifest's ``[http]`` endpoints invoking ``target_arn``, on this deploy's connection."""
        clients = Clients(self.lambda_hook.conn, self._client)
        return HttpEndpoints(self.manifest.http, self.manifest.name, target_arn, clients)

    def _client(self, client_type: str) -> Any:
        """A boto3 client for another service, on this deploy's connection, region and config."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        return AwsBaseHook(
            aws_conn_id=self.lambda_hook.aws_conn_id,
            region_name=self.lambda_hook.region_name,
            config=self.lambda_hook.config,
            client_type=client_type,
        ).conn

    def _ensure_endpoints(self, state: DeployState, target_arn: str) -> dict[str, str]:
        """``[http]``'s APIs and function URL created or brought in line (reads only when they are),
        and those it no longer lists taken down."""
        endpoints = self.http_endpoints(target_arn)
        urls = endpoints.ensure()
        state.changed |= endpoints.changed
        for kind, url in urls.items():
            log.info("%s: %s %s", self.manifest.name, kind, url)
        return urls

    def _warn_about_latest_triggers(self, function_name: str) -> None:
        """Lambda updates ``$LATEST`` before a version can be published and smoke-tested, so whatever
        invokes the bare function runs the new code untested; only the alias waits for the tests."""
        try:
            triggers = self.lambda_hook.unqualified_triggers(function_name)
        except ClientError as error:  # e.g. no lambda:ListEventSourceMappings: a check, not a step
            log.warning("%s: could not check what invokes $LATEST: %s", function_name, error)
            return
        if triggers:
            log.warning(
                "%s: updating $LATEST, which %s invoke directly: they run the new code before its smoke "
                "tests; point them at the alias %r instead",
                function_name,
                ", ".join(triggers),
                self.alias_name,
            )

    def _ensure_managed_tag(self, function_arn: str) -> None:
        """Tag a function created before deploys tagged them (or untagged since): the Lambda view shows
        only tagged functions. Metadata, not the function: no new version, no smoke test."""
        tags = self.lambda_hook.conn.list_tags(Resource=function_arn).get("Tags", {})
        if tags.get(lambda_api.MANAGED_TAG) != lambda_api.MANAGED_TAG_VALUE:
            self.lambda_hook.conn.tag_resource(
                Resource=function_arn, Tags={lambda_api.MANAGED_TAG: lambda_api.MANAGED_TAG_VALUE}
            )
            log.info("%s: tagged %s", self.manifest.name, lambda_api.MANAGED_TAG)

    def _ensure_role(self) -> tuple[str, bool]:
        if self.role_arn:
            return self.role_arn, False
        role = self.iam_hook.ensure_execution_role(
            role_name=lambda_api.execution_role_name(self.manifest.name),
            trust_policy=lambda_api.LAMBDA_TRUST_POLICY,
            inline_policy=lambda_api.execution_role_policy(self.manifest),
        )
        return role.arn, role.changed

    def _code(self, package: BuildResult) -> dict[str, Any]:
        if not package.requires_s3_upload:
            return package.direct_upload_code()
        if not self.s3_bucket or self.s3_hook is None:
            raise DeployError(
                f"{self.manifest.name}: the package is {package.zipped_size:,} bytes, above Lambda's 50 MB "
                "direct-upload limit: pass s3_bucket so it is uploaded through S3"
            )
        if not self.s3_hook.check_for_key(package.s3_key, self.s3_bucket):
            self.s3_hook.load_bytes(package.zip_bytes, key=package.s3_key, bucket_name=self.s3_bucket)
        return {"S3Bucket": self.s3_bucket, "S3Key": package.s3_key}

    def _target_version(self, state: DeployState) -> tuple[str, bool]:
        """The published version that matches the code and configuration, publishing one if none does."""
        for version in self.lambda_hook.published_versions(state.function_name):
            if version["CodeSha256"] == state.code_sha256 and not lambda_api.configuration_changes(
                self.manifest, state.role_arn, version, tuple(state.layer_arns)
            ):
                return version["Version"], False
        published = self.lambda_hook.conn.publish_version(
            FunctionName=state.function_name, CodeSha256=state.code_sha256
        )
        log.info("%s: published version %s", state.function_name, published["Version"])
        return published["Version"], True

    def _smoke_test(self, function_name: str, version: str) -> list[str]:
        if self.smoke_test is False:
            return []
        return run_smoke_tests(self.lambda_hook, self.function_dir, function_name, version, self.smoke_test)
