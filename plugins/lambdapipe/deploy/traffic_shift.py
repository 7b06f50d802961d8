"""Moving an alias from its version to a new one as ``deployment`` in function.toml says, like SAM's
CodeDeploy deployments: pre-traffic hook, weighted steps with a health check after each, 100%,
post-traffic hook; any failure (a breach, a hook, an alias write that fails, the task killed) puts
the alias back on the old version alone and raises.

The alias's weights (``RoutingConfig.AdditionalVersionWeights``) are the only state in AWS; its
``Description`` records the deployment's progress for people (the Lambda view shows it). Between
steps the caller waits ``ShiftState.wait_seconds``: a sleep, or a trigger in the triggerer.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from lambdapipe.deploy.alias import weights
from lambdapipe.deploy.errors import DeployError
from lambdapipe.deploy.version_health import firing_alarms, measure
from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.packaging.deployment_settings import DeploymentSettings, TrafficStep

log = logging.getLogger(__name__)

DESCRIPTION_PREFIX = "lambdapipe deployment: "
MAX_DESCRIPTION = 256
POST_HOOK_PENDING = "100%, post_traffic_hook pending"
_POST_HOOK_PENDING = re.compile(
    rf"{DESCRIPTION_PREFIX}v(?P<old>\d+) -> v(?P<new>\d+) .*: {re.escape(POST_HOOK_PENDING)}"
)


class DeploymentRolledBack(DeployError):
    """A health check or a hook failed: the alias is back on the old version alone."""


class DeploymentStopped(DeployError):
    """The pre-traffic hook failed or an alarm was firing already: no traffic moved."""


class DeploymentSuperseded(DeployError):
    """Someone else moved the alias mid-shift (by hand, another deploy): left as they set it."""


class DeploymentInterrupted(DeployError):
    """Moving the alias failed (throttled, a network error): it is back on the old version alone, and
    unlike a verdict on the new version a retry may start the shift over."""


@dataclass
class ShiftState:
    """A shift in progress; JSON-serializable so a trigger can carry it across a deferral. It carries
    the ``deployment`` settings the shift began with: an edit of function.toml mid-shift (or a worker
    with other files) changes neither the steps nor the thresholds nor the hooks."""

    alias: str
    old_version: str
    new_version: str
    settings: dict[str, Any]  # DeploymentSettings.to_table()
    started_at: str  # ISO 8601 UTC: the health window's start
    step: int = 0  # the step whose wait is running
    history: list[str] = field(default_factory=list)
    done: bool = False

    @functools.cached_property
    def deployment(self) -> DeploymentSettings:
        return DeploymentSettings.from_table(self.settings)

    @property
    def plan(self) -> str:
        return self.deployment.describe_plan()

    @property
    def steps(self) -> tuple[TrafficStep, ...]:
        return self.deployment.steps

    @property
    def wait_seconds(self) -> int:
        return 0 if self.done else self.steps[self.step].seconds

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShiftState:
        return cls(**data)


@dataclass
class TrafficShift:
    """Drives one alias of ``function_name`` through a deployment; ``cloudwatch`` is a boto3 client."""

    lambda_hook: LambdaHook
    cloudwatch: Any
    function_name: str

    def begin(
        self,
        settings: DeploymentSettings,
        alias: str,
        old_version: str,
        new_version: str,
        split: bool = False,
    ) -> ShiftState:
        """Run the pre-traffic hook, then send the first step's share (or everything) to the new version.

        ``split``: the alias still has weights an interrupted shift left; stopping here removes them.
        """
        firing = firing_alarms(self.cloudwatch, settings.alarms)  # a misspelt one raises here
        state = ShiftState(
            alias, old_version, new_version, settings.to_table(), datetime.now(UTC).isoformat()
        )
        stop = functools.partial(self._stop_before_traffic, split=split)
        if firing:
            stop(state, f"CloudWatch alarm {', '.join(firing)} is in ALARM already")
        roles = {self._role(version) for version in (old_version, new_version)} if state.steps else set()
        if len(roles) > 1:
            stop(
                state,
                f"versions {old_version} and {new_version} run as different execution roles "
                f"({', '.join(sorted(roles))}): Lambda splits an alias only between versions with the same "
                'role; deploy this change all at once (deployment = "AllAtOnce")',
            )
        self._run_hook("pre_traffic_hook", state, on_failure=stop)
        if not state.steps:
            return self._complete(state)
        self._route(state, self._percent(state))
        return state

    def advance(self, state: ShiftState) -> ShiftState:
        """After a step's wait: check health, then the next step's share or 100%."""
        step = f"step {state.step + 1} of {len(state.steps)} ({self._percent(state):g}%)"
        self._check_untouched(state, step)
        try:
            health = measure(
                self.cloudwatch,
                self.function_name,
                state.alias,
                state.new_version,
                datetime.fromisoformat(state.started_at),
                state.deployment.alarms,
            )
        except Exception as error:  # an unchecked step is not a healthy one
            self._roll_back(state, f"at {step}: could not check the new version's health: {error}")
        breaches = health.breaches(state.deployment)
        if breaches:
            self._roll_back(state, f"at {step}: {'; '.join(breaches)} ({health.summary()})")
        state.history.append(f"{self._percent(state):g}%: {health.summary()}")
        log.info("%s: %s healthy: %s", self.function_name, step, health.summary())
        state.step += 1
        if state.step == len(state.steps):
            return self._complete(state)
        self._route(state, self._percent(state))
        return state

    def _role(self, version: str) -> str:
        config = self.lambda_hook.conn.get_function_configuration(
            FunctionName=self.function_name, Qualifier=version
        )
        return config["Role"]

    def _check_untouched(self, state: ShiftState, step: str) -> None:
        """The alias is as this shift left it: a change by anyone else wins, and this shift stops."""
        try:
            current = self.lambda_hook.conn.get_alias(FunctionName=self.function_name, Name=state.alias)
        except Exception as error:
            self._interrupt(state, f"could not read alias {state.alias}", error)
        expected = {state.new_version: round(self._percent(state) / 100, 4)}
        if (current["FunctionVersion"], weights(current)) != (state.old_version, expected):
            raise DeploymentSuperseded(
                f"{self.function_name}: alias {state.alias} was changed during {step} by someone else: it "
                f"sends {_routing(current['FunctionVersion'], weights(current))}, not "
                f"{_routing(state.old_version, expected)}; left as it is, this deployment stops"
            )

    def resume_post_hook(
        self, settings: DeploymentSettings, alias: str, old_version: str, new_version: str
    ) -> ShiftState:
        """Run the post-traffic hook a deploy lost after its 100% write (``pending_post_hook``),
        rolling back if it fails."""
        started = datetime.now(UTC).isoformat()
        state = ShiftState(alias, old_version, new_version, settings.to_table(), started, history=["100%"])
        self._run_post_hook(state)
        state.done = True
        return state

    def _complete(self, state: ShiftState) -> ShiftState:
        state.history.append(f"100% at {datetime.now(UTC):%Y-%m-%d %H:%M}Z")
        if state.deployment.post_traffic_hook is None:
            self._route(state, 100.0, status=_completed(state))
        else:  # marked, so a retry after a crash before the hook runs it (resume_post_hook)
            self._route(state, 100.0, status=POST_HOOK_PENDING)
            self._run_post_hook(state)
        state.done = True
        return state

    def _run_post_hook(self, state: ShiftState) -> None:
        self._run_hook("post_traffic_hook", state, on_failure=self._roll_back)
        try:
            self._write_alias(state, state.new_version, {}, _completed(state))
        except Exception as error:  # the deployment is done; a later deploy runs the hook once more
            log.warning("%s: could not mark alias %s completed: %s", self.function_name, state.alias, error)

    def _route(self, state: ShiftState, percent: float, status: str | None = None) -> None:
        """Point the alias: the old version with ``percent`` to the new one, or the new one alone at 100.
        A failed write puts it back on the old version alone: never left half-way by an error."""
        if percent >= 100:
            version, routed = state.new_version, {}
        else:
            version, routed = state.old_version, {state.new_version: round(percent / 100, 4)}
        try:
            self._write_alias(state, version, routed, status or f"{percent:g}% on v{state.new_version}")
        except Exception as error:
            what = f"could not send {percent:g}% of alias {state.alias} to version {state.new_version}"
            self._interrupt(state, what, error)
        log.info(
            "%s: alias %s sends %g%% to version %s",
            self.function_name,
            state.alias,
            percent,
            state.new_version,
        )

    def _interrupt(self, state: ShiftState, what: str, error: Exception) -> NoReturn:
        """An AWS call failed mid-shift: the alias back on the old version, and a retryable error."""
        self._put_back(state, f"interrupted: {what}: {error}")
        raise DeploymentInterrupted(
            f"{self.function_name}: {what} ({error}); it is on version {state.old_version} alone again, "
            "and a retry starts the shift over"
        ) from error

    def _roll_back(self, state: ShiftState, reason: str) -> NoReturn:
        self._put_back(state, f"rolled back {reason}")
        raise DeploymentRolledBack(
            f"{self.function_name}: version {state.new_version} rolled back, alias {state.alias} is on version "
            f"{state.old_version} again: {reason}"
        )

    def _stop_before_traffic(self, state: ShiftState, reason: str, split: bool) -> NoReturn:
        if split:
            self._put_back(state, f"stopped: {reason}")
        where = "again" if split else "still"
        raise DeploymentStopped(
            f"{self.function_name}: {reason}; alias {state.alias} sends everything to version "
            f"{state.old_version} {where}"
        )

    def _write_alias(self, state: ShiftState, version: str, routed: dict[str, float], status: str) -> None:
        """``version`` plus ``routed`` shares of others, and the deployment's progress in the Description."""
        self.lambda_hook.conn.update_alias(
            FunctionName=self.function_name,
            Name=state.alias,
            FunctionVersion=version,
            RoutingConfig={"AdditionalVersionWeights": routed},
            Description=_description(state, status),
        )

    def _put_back(self, state: ShiftState, status: str) -> None:
        """The alias on the old version alone. If even that write fails the alias may be split: the
        error says so and how to fix it by hand, and stays retryable (a retry starts the shift over)."""
        try:
            self._write_alias(state, state.old_version, {}, status)
        except Exception as error:
            raise DeployError(
                f"{self.function_name}: could not put alias {state.alias} back on version {state.old_version} "
                f"({error}) after: {status}. It may still send traffic to version {state.new_version}; "
                f"`aws lambda update-alias --function-name {self.function_name} --name {state.alias} "
                f"--function-version {state.old_version} --routing-config AdditionalVersionWeights={{}}` "
                "puts it back"
            ) from error

    def _run_hook(
        self, name: str, state: ShiftState, on_failure: Callable[[ShiftState, str], NoReturn]
    ) -> None:
        """Invoke the hook function with what is being deployed; a function error is a failure."""
        hook = getattr(state.deployment, name)
        if hook is None:
            return
        function, _, qualifier = hook.partition(":")
        event = {
            "function_name": self.function_name,
            "alias": state.alias,
            "old_version": state.old_version,
            "new_version": state.new_version,
            "hook": name.removesuffix("_hook"),
        }
        try:
            outcome = self.lambda_hook.invoke_json(function, event, qualifier=qualifier or None)
        except Exception as error:  # e.g. the hook function does not exist: a failed hook all the same
            on_failure(state, f"{name} {hook} could not be invoked: {error}")
        if outcome.function_error:
            on_failure(state, f"{name} {hook} failed with {outcome.error_summary}")
        log.info("%s: %s %s passed", self.function_name, name, hook)

    @staticmethod
    def _percent(state: ShiftState) -> float:
        return float(state.steps[state.step].percent)


def _description(state: ShiftState, status: str) -> str:
    """The alias's Description: what moved where, by which plan, and how far it got. A long plan is
    cut, not the status after it: ``resume_post_hook`` reads the status."""
    head = f"{DESCRIPTION_PREFIX}v{state.old_version} -> v{state.new_version} "
    room = MAX_DESCRIPTION - len(head) - len(status) - 2
    plan = state.plan if len(state.plan) <= room else state.plan[: max(room - 3, 0)] + "..."
    return _truncated(f"{head}{plan}: {status}")


def _completed(state: ShiftState) -> str:
    return f"completed ({', '.join(state.history)})"


def _truncated(description: str) -> str:
    return description if len(description) <= MAX_DESCRIPTION else description[: MAX_DESCRIPTION - 3] + "..."


def put_back_split_alias(lambda_hook: LambdaHook, function_name: str, alias: str, reason: str) -> None:
    """End a lambdapipe deployment that was left split (its task killed or timed out mid-step): the
    alias back on its old version alone. Nothing to undo (no weights, or weights no lambdapipe
    deployment set) is left as it is."""
    conn = lambda_hook.conn
    try:
        current = conn.get_alias(FunctionName=function_name, Name=alias)
    except conn.exceptions.ResourceNotFoundException:
        return
    description = current.get("Description") or ""
    if not weights(current) or not description.startswith(DESCRIPTION_PREFIX):
        return
    moved = description.removeprefix(DESCRIPTION_PREFIX).split(": ", 1)[0]
    conn.update_alias(
        FunctionName=function_name,
        Name=alias,
        FunctionVersion=current["FunctionVersion"],
        RoutingConfig={"AdditionalVersionWeights": {}},
        Description=_truncated(f"{DESCRIPTION_PREFIX}{moved}: abandoned: {reason}"),
    )
    log.warning(
        "%s: alias %s put back on version %s: %s", function_name, alias, current["FunctionVersion"], reason
    )


def pending_post_hook(alias: dict[str, Any]) -> tuple[str, str] | None:
    """(old, new) versions when the alias is on a new version whose post-traffic hook a lost deploy
    did not run (its Description ends ``post_traffic_hook pending``); None otherwise."""
    pending = _POST_HOOK_PENDING.fullmatch(alias.get("Description") or "")
    if pending is None or pending["new"] != alias["FunctionVersion"] or weights(alias):
        return None
    return pending["old"], pending["new"]


def _routing(version: str, others: dict[str, float]) -> str:
    """``version 1 with 30% to version 2``, or ``version 2 alone``."""
    shares = ", ".join(f"{weight:.0%} to version {other}" for other, weight in others.items())
    return f"version {version} " + (f"with {shares}" if shares else "alone")
