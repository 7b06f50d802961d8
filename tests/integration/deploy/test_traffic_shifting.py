"""``deployment`` in function.toml on the local stack: the alias moves to a new version in weighted
steps while real invocations run through it, and a breach of the new version's health (from the
CloudWatch metrics the local Lambda publishes), an alarm or a hook puts it back on the old version."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason
from airflow.sdk.exceptions import TaskDeferralTimeout

from lambdapipe.deploy import traffic_shift
from lambdapipe.deploy.deployer import DeployResult, DeployState, FunctionDeployer
from lambdapipe.deploy.errors import DeployError
from lambdapipe.deploy.traffic_shift import (
    DeploymentInterrupted,
    DeploymentRolledBack,
    DeploymentStopped,
    DeploymentSuperseded,
)
from lambdapipe.hooks.iam import IamHook
from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.operators.lambda_function import LambdaDeployFunctionOperator
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule
from tests.support.aws_calls import write_calls
from tests.support.aws_setup import LAMBDA_ASSUME_ROLE
from tests.support.dag_runs import (
    TRAFFIC_STEP_TRIGGER,
    deploy_triggers_created,
    register,
    task_states,
    xcom_return_values,
)

Deploy = Callable[..., DeployResult]
BeginShift = Callable[[Path], tuple[FunctionDeployer, DeployState]]

# Calls 4-6 of every ten fail: exactly 30% of a multiple of ten, whichever calls the alias sends here.
HANDLER = """\
import time

CALLS = 0


def handler(event, context):
    global CALLS
    CALLS += 1
    if CALLS % 10 in {failing}:
        raise RuntimeError("call %d failed" % CALLS)
    time.sleep({sleep})
    return {{"release": "{release}", "call": CALLS}}
"""


def write_function(
    folder: Path, release: str, deployment: str = "", failing: tuple[int, ...] = (), sleep: float = 0.0
) -> Path:
    """A Python function whose ``release`` shows in each answer; ``failing`` call numbers (mod 10) raise."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(HANDLER.format(failing=set(failing) or "()", sleep=sleep, release=release))
    (folder / "function.toml").write_text(f'runtime = "python3.11"\nhandler = "app.handler"\n{deployment}')
    return folder


def released_then_changed(deploy: Deploy, folder: Path, deployment: str, **changes: Any) -> Path:
    """Release "one" (the alias's first version, moved at once), then write "two" with ``changes``."""
    deploy(write_function(folder, "one", deployment))
    return write_function(folder, "two", deployment, **changes)


def canary(percent: int, seconds: int, extra: str = "") -> str:
    return f"[deployment]\nsteps = [{{ percent = {percent}, seconds = {seconds} }}]\n{extra}"


@contextmanager
def traffic(aws: LocalAws, function_name: str) -> Iterator[list[dict[str, Any]]]:
    """Invoke the ``live`` alias over and over in a thread while the block runs; yields the answers."""
    client = aws.client("lambda")
    answers: list[dict[str, Any]] = []
    stop = threading.Event()

    def invoke() -> None:
        while not stop.is_set():
            response = client.invoke(FunctionName=function_name, Qualifier="live", Payload=b"{}")
            answers.append({"version": response["ExecutedVersion"], "error": response.get("FunctionError")})

    thread = threading.Thread(target=invoke, daemon=True)
    thread.start()
    try:
        yield answers
    finally:
        stop.set()
        thread.join(timeout=60)


def alias(aws: LocalAws, function_name: str) -> dict[str, Any]:
    return aws.client("lambda").get_alias(FunctionName=function_name, Name="live")


def weights(alias_config: dict[str, Any]) -> dict[str, float]:
    return (alias_config.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}


def test_a_healthy_canary_ends_with_the_alias_on_the_new_version_alone(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    folder = write_function(tmp_path / "shifted", "one", canary(20, 3))
    first = deploy(folder)
    assert first.deployment == []  # a first deploy has no old version to shift from, as in SAM
    write_function(folder, "two", canary(20, 3))

    with traffic(aws, "shifted") as answers:
        result = deploy(folder)

    settled = alias(aws, "shifted")
    assert (settled["FunctionVersion"], weights(settled)) == ("2", {})
    assert {answer["version"] for answer in answers} == {"1", "2"}
    assert not any(answer["error"] for answer in answers)
    [step, done] = result.deployment
    assert re.fullmatch(r"20%: 0 errors in [1-9]\d* invocations, p95 \d+ ms", step), step
    assert done.startswith("100% at ")
    assert settled["Description"].startswith("lambdapipe deployment: v1 -> v2 custom (20% for 3s, then 100%)")
    assert "completed" in settled["Description"]


def test_a_redeploy_after_a_completed_shift_makes_no_write_call(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    folder = released_then_changed(deploy, tmp_path / "steady", canary(50, 1))
    deploy(folder)
    aws.calls.reset()

    again = deploy(folder)

    assert write_calls(aws.calls.snapshot()) == {}
    assert (again.changed, again.version, again.deployment) == (False, "2", [])


def test_a_version_failing_30_percent_rolls_back_at_the_first_check_naming_the_error_rate(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    steps = "[deployment]\nsteps = [{ percent = 50, seconds = 3 }, { percent = 90, seconds = 3 }]\n"
    folder = released_then_changed(deploy, tmp_path / "flaky", steps, failing=(4, 5, 6))

    with traffic(aws, "flaky") as answers, pytest.raises(DeploymentRolledBack) as raised:
        deploy(folder)

    message = str(raised.value)
    rate = re.search(
        r"error rate (\d+\.\d)% \((\d+) of (\d+) invocations\) above max_error_rate 5\.0%", message
    )
    assert rate, message
    assert 20 <= float(rate[1]) <= 45  # 30% of calls fail; a short step sees a few calls more or less
    assert "at step 1 of 2 (50%)" in message
    assert "alias live is on version 1 again" in message
    back = alias(aws, "flaky")
    assert (back["FunctionVersion"], weights(back)) == ("1", {})
    assert "rolled back at step 1 of 2" in back["Description"]
    failed_on_two = sum(1 for answer in answers if answer["version"] == "2" and answer["error"])
    assert failed_on_two >= int(rate[2])  # the check counted errors that really happened


def test_a_p95_duration_above_the_limit_rolls_back_naming_the_p95(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    settings = canary(50, 3, "max_p95_duration_ms = 150\n")
    folder = released_then_changed(deploy, tmp_path / "slow", settings, sleep=0.4)

    with (
        traffic(aws, "slow"),
        pytest.raises(DeploymentRolledBack, match=r"p95 duration \d+ ms above max_p95_duration_ms 150"),
    ):
        deploy(folder)

    assert alias(aws, "slow")["FunctionVersion"] == "1"


@pytest.fixture
def alarm(aws: LocalAws) -> str:
    """``orders-5xx``, a CloudWatch alarm in state OK."""
    aws.client("cloudwatch").put_metric_alarm(
        AlarmName="orders-5xx",
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    aws.client("cloudwatch").set_alarm_state(AlarmName="orders-5xx", StateValue="OK", StateReason="test")
    return "orders-5xx"


def test_an_alarm_going_off_during_a_step_rolls_back_at_its_check(
    aws: LocalAws, deploy: Deploy, alarm: str, tmp_path: Path
) -> None:
    settings = canary(10, 3, f'alarms = ["{alarm}"]\n')
    folder = released_then_changed(deploy, tmp_path / "alarmed", settings)

    def set_off_once_traffic_moved() -> None:
        deadline = time.monotonic() + 60
        while not weights(alias(aws, "alarmed")) and time.monotonic() < deadline:
            time.sleep(0.05)
        aws.client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx")

    watcher = threading.Thread(target=set_off_once_traffic_moved, daemon=True)
    watcher.start()
    with pytest.raises(
        DeploymentRolledBack, match="at step 1 of 1 \\(10%\\): CloudWatch alarm orders-5xx is in ALARM"
    ):
        deploy(folder)
    watcher.join(timeout=10)

    assert (alias(aws, "alarmed")["FunctionVersion"], weights(alias(aws, "alarmed"))) == ("1", {})


@pytest.mark.parametrize(
    ("alarms", "error"),
    [
        ('["orders-5xxx"]', "alarms that do not exist: orders-5xxx"),
        ('["orders-5xx"]', "CloudWatch alarm orders-5xx is in ALARM already"),
    ],
    ids=["unknown alarm", "alarm firing"],
)
def test_an_unknown_or_firing_alarm_stops_the_deploy_before_traffic_moves(
    aws: LocalAws, deploy: Deploy, alarm: str, tmp_path: Path, alarms: str, error: str
) -> None:
    folder = released_then_changed(deploy, tmp_path / "stopped", canary(10, 1, f"alarms = {alarms}\n"))
    aws.client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx")
    aws.calls.reset()

    with pytest.raises(DeployError, match=error):
        deploy(folder)

    assert "lambda:UpdateAlias" not in write_calls(aws.calls.snapshot())
    assert (alias(aws, "stopped")["FunctionVersion"], weights(alias(aws, "stopped"))) == ("1", {})


def test_a_health_check_cloudwatch_cannot_answer_rolls_back_instead_of_leaving_the_alias_split(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    folder = released_then_changed(deploy, tmp_path / "unchecked", canary(30, 1))
    aws.faults.add(FaultRule(service="cloudwatch", operation="GetMetricStatistics", error="internal_error"))

    with pytest.raises(
        DeploymentRolledBack, match=r"could not check the new version's health: .*InternalServiceError"
    ):
        deploy(folder)

    assert (alias(aws, "unchecked")["FunctionVersion"], weights(alias(aws, "unchecked"))) == ("1", {})


def test_a_failing_pre_traffic_hook_moves_no_traffic_and_a_failing_post_traffic_hook_rolls_back(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    hook = tmp_path / "gate"
    hook.mkdir()
    (hook / "app.py").write_text(
        "def handler(event, context):\n"
        "    if event['hook'] == 'pre_traffic':\n"
        "        raise ValueError('gate says no to version ' + event['new_version'])\n"
        "    return event\n"
    )
    (hook / "function.toml").write_text('runtime = "python3.11"\nhandler = "app.handler"\n')
    deploy(hook)
    hooks = 'pre_traffic_hook = "gate:live"\npost_traffic_hook = "gate:live"\n'
    folder = released_then_changed(deploy, tmp_path / "gated", canary(10, 1, hooks))

    with pytest.raises(
        DeploymentStopped, match=r"pre_traffic_hook gate:live failed with ValueError: gate says no"
    ):
        deploy(folder)
    assert (alias(aws, "gated")["FunctionVersion"], weights(alias(aws, "gated"))) == ("1", {})

    (hook / "app.py").write_text(
        "def handler(event, context):\n"
        "    if event['hook'] == 'post_traffic':\n"
        "        raise ValueError('post check failed for version ' + event['new_version'])\n"
        "    return event\n"
    )
    deploy(hook)
    with pytest.raises(
        DeploymentRolledBack, match="post_traffic_hook gate:live failed with ValueError: post check"
    ):
        deploy(folder)
    assert (alias(aws, "gated")["FunctionVersion"], weights(alias(aws, "gated"))) == ("1", {})


def test_the_deferrable_operator_waits_each_step_in_the_triggerer_and_ends_on_the_new_version(
    aws: LocalAws, aws_connection: str, tmp_path: Path
) -> None:
    steps = "[deployment]\nsteps = [{ percent = 10, seconds = 2 }, { percent = 50, seconds = 2 }]\n"
    folder = write_function(tmp_path / "deferred", "one", steps)
    with DAG(dag_id="test_traffic_shift_deferrable", schedule=None) as dag:
        LambdaDeployFunctionOperator(
            task_id="deploy", function_dir=str(folder), deferrable=True, aws_conn_id=aws_connection
        )
    register(dag)
    dag.test()
    write_function(folder, "two", steps)
    steps_before = deploy_triggers_created(TRAFFIC_STEP_TRIGGER)

    with traffic(aws, "deferred"):
        run = dag.test()

    assert task_states(run) == {"deploy": "success"}
    shifted = xcom_return_values(run)["deploy"]
    [first, second, done] = shifted["deployment"]
    assert first.startswith("10%: 0 errors in ") and second.startswith("50%: 0 errors in "), shifted
    assert done.startswith("100% at ")
    assert deploy_triggers_created(TRAFFIC_STEP_TRIGGER) - steps_before == 2
    settled = alias(aws, "deferred")
    assert (settled["FunctionVersion"], weights(settled)) == ("2", {})


def test_a_post_traffic_hook_that_cannot_be_invoked_rolls_back_like_a_failing_one(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    settings = canary(50, 1, 'post_traffic_hook = "no_such_hook"\n')
    folder = released_then_changed(deploy, tmp_path / "hookless", settings)

    with pytest.raises(
        DeploymentRolledBack,
        match=r"post_traffic_hook no_such_hook could not be invoked: Lambda function no_such_hook does not exist",
    ):
        deploy(folder)

    assert (alias(aws, "hookless")["FunctionVersion"], weights(alias(aws, "hookless"))) == ("1", {})


def test_a_rolled_back_deploy_task_fails_for_good_instead_of_retrying_the_same_version(
    aws: LocalAws, aws_connection: str, tmp_path: Path
) -> None:
    """Nothing invokes the alias during the step, so ``min_invocations = 1`` is breached."""
    settings = canary(50, 1, "min_invocations = 1\n")
    folder = write_function(tmp_path / "unretried", "one", settings)
    with DAG(dag_id="test_traffic_shift_no_retry", schedule=None) as dag:
        LambdaDeployFunctionOperator(
            task_id="deploy",
            function_dir=str(folder),
            deferrable=True,
            aws_conn_id=aws_connection,
            retries=2,
            retry_delay=timedelta(seconds=1),
        )
    register(dag)
    dag.test()
    write_function(folder, "two", settings)
    aws.calls.reset()

    run = dag.test()

    assert task_states(run) == {"deploy": "failed"}
    assert aws.calls.snapshot()["lambda:UpdateAlias"] == 2  # 50% to version 2, then back: once
    assert (alias(aws, "unretried")["FunctionVersion"], weights(alias(aws, "unretried"))) == ("1", {})


def test_a_ctrl_c_landing_just_after_the_first_step_moved_the_alias_puts_it_back(
    aws: LocalAws, deploy: Deploy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The interrupt arrives as the first step's alias write returns, before the step's wait begins:
    before, it left the alias split between both versions, with nobody watching the new one."""
    folder = released_then_changed(deploy, tmp_path / "ctrl_c", canary(40, 600))
    log_step = traffic_shift.log.info

    def interrupted_after_the_write(message: str, *args: Any) -> None:
        log_step(message, *args)
        if "sends %g%% to version" in message:
            raise KeyboardInterrupt

    monkeypatch.setattr(traffic_shift.log, "info", interrupted_after_the_write)

    with pytest.raises(KeyboardInterrupt):
        deploy(folder)

    back = alias(aws, "ctrl_c")
    assert (back["FunctionVersion"], weights(back)) == ("1", {})
    assert back["Description"].endswith("abandoned: the deploy stopped mid-step (KeyboardInterrupt)")


@pytest.fixture
def begun_shift(deploy: Deploy) -> BeginShift:
    """``begun_shift(folder)``: a deploy stopped right after its first traffic step moved, as a worker
    that died mid-step leaves it; returns the deployer and its state for the steps a test runs itself."""

    def begin(folder: Path) -> tuple[FunctionDeployer, DeployState]:
        deployer = FunctionDeployer(
            function_dir=folder, lambda_hook=LambdaHook(aws_conn_id=None), iam_hook=IamHook(aws_conn_id=None)
        )
        state = deployer.start()
        while state.awaiting_update:
            deployer.lambda_hook.wait_until_updated(state.function_name, 1, 60)
            state = deployer.resume(state)
        return deployer, deployer.release(state)

    return begin


def test_stopping_before_traffic_removes_the_weights_an_interrupted_shift_left(
    aws: LocalAws, deploy: Deploy, begun_shift: BeginShift, alarm: str, tmp_path: Path
) -> None:
    folder = released_then_changed(deploy, tmp_path / "leftover", canary(30, 60, f'alarms = ["{alarm}"]\n'))
    begun_shift(folder)
    assert weights(alias(aws, "leftover")) == {"2": 0.3}
    aws.client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx")

    with pytest.raises(DeploymentStopped, match=r"alias live sends everything to version 1 again$"):
        deploy(folder)

    back = alias(aws, "leftover")
    assert (back["FunctionVersion"], weights(back)) == ("1", {})
    assert "stopped: CloudWatch alarm orders-5xx is in ALARM already" in back["Description"]


def test_an_alias_write_failing_mid_shift_puts_the_alias_back_and_a_retry_starts_over(
    aws: LocalAws, deploy: Deploy, begun_shift: BeginShift, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # one injected error fails the call: no botocore retry
    folder = released_then_changed(deploy, tmp_path / "unwritten", canary(50, 1))
    deployer, state = begun_shift(folder)
    aws.faults.add(FaultRule(service="lambda", operation="UpdateAlias", error="internal_error", count=1))

    with pytest.raises(DeploymentInterrupted) as raised:
        deployer.advance(state)

    assert re.search(
        r"could not send 100% of alias live to version 2 \(.*\); it is on version 1 alone again, and a "
        r"retry starts the shift over$",
        str(raised.value),
    ), raised.value
    back = alias(aws, "unwritten")
    assert (back["FunctionVersion"], weights(back)) == ("1", {})
    assert ": interrupted: could not send 100% of alias live to version 2: " in back["Description"]
    assert deploy(folder).version == "2"
    assert (alias(aws, "unwritten")["FunctionVersion"], weights(alias(aws, "unwritten"))) == ("2", {})


def test_a_rollback_whose_write_fails_says_the_alias_may_be_split_and_how_to_put_it_back(
    aws: LocalAws, deploy: Deploy, begun_shift: BeginShift, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing invokes the alias during the step, so ``min_invocations = 1`` is breached."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    folder = released_then_changed(deploy, tmp_path / "stuck", canary(50, 1, "min_invocations = 1\n"))
    deployer, state = begun_shift(folder)
    aws.faults.add(FaultRule(service="lambda", operation="UpdateAlias", error="internal_error", count=1))

    with pytest.raises(DeployError) as raised:
        deployer.advance(state)

    assert not isinstance(raised.value, DeploymentRolledBack)  # retryable: the alias is not back yet
    message = str(raised.value)
    assert "stuck: could not put alias live back on version 1 (" in message
    assert "after: rolled back at step 1 of 1 (50%): only 0 invocations, below min_invocations 1" in message
    assert message.endswith(
        "It may still send traffic to version 2; `aws lambda update-alias --function-name stuck --name live "
        "--function-version 1 --routing-config AdditionalVersionWeights={}` puts it back"
    )
    assert weights(alias(aws, "stuck")) == {"2": 0.5}
    with pytest.raises(DeploymentRolledBack):  # the retry: the same verdict, and this time the write
        deploy(folder)
    assert (alias(aws, "stuck")["FunctionVersion"], weights(alias(aws, "stuck"))) == ("1", {})


def test_a_killed_deploy_task_or_its_timed_out_step_puts_the_alias_back_on_the_old_version(
    aws: LocalAws, aws_connection: str, deploy: Deploy, begun_shift: BeginShift, tmp_path: Path
) -> None:
    folder = released_then_changed(deploy, tmp_path / "killed", canary(30, 600))
    task = LambdaDeployFunctionOperator(
        task_id="deploy_killed", function_dir=str(folder), deferrable=True, aws_conn_id=aws_connection
    )
    begun_shift(folder)

    task.on_kill()  # what Airflow calls on SIGTERM, "mark failed" of a running task, execution_timeout

    back = alias(aws, "killed")
    assert (back["FunctionVersion"], weights(back)) == ("1", {})
    assert back["Description"] == (
        "lambdapipe deployment: v1 -> v2 custom (30% for 10m, then 100%): abandoned: task deploy_killed was "
        "killed"
    )

    begun_shift(folder)
    with pytest.raises(TaskDeferralTimeout):
        task.resume_execution(TRIGGER_FAIL_REPR, {"error": TriggerFailureReason.TRIGGER_TIMEOUT}, {})
    assert (alias(aws, "killed")["FunctionVersion"], weights(alias(aws, "killed"))) == ("1", {})
    assert (
        "abandoned: task deploy_killed's trigger failed or timed out" in alias(aws, "killed")["Description"]
    )


def test_a_split_nobody_deployed_is_left_alone_by_a_killed_task(
    aws: LocalAws, aws_connection: str, deploy: Deploy, tmp_path: Path
) -> None:
    """Weights someone set by hand (no lambdapipe Description) are theirs, not a shift to undo."""
    folder = released_then_changed(deploy, tmp_path / "manual", canary(30, 600))
    deploy(folder, overrides={"deployment": "AllAtOnce"})
    aws.client("lambda").update_alias(
        FunctionName="manual",
        Name="live",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.2}},
        Description="by hand",
    )
    task = LambdaDeployFunctionOperator(
        task_id="deploy_manual", function_dir=str(folder), aws_conn_id=aws_connection
    )

    task.on_kill()

    assert weights(alias(aws, "manual")) == {"1": 0.2}


def test_redeploying_the_old_version_over_an_interrupted_shift_clears_its_weights_and_description(
    aws: LocalAws, deploy: Deploy, begun_shift: BeginShift, tmp_path: Path
) -> None:
    folder = released_then_changed(deploy, tmp_path / "reverted", canary(30, 600))
    begun_shift(folder)
    write_function(folder, "one", canary(30, 600))  # the change reverted: version 1 again

    assert deploy(folder).version == "1"

    back = alias(aws, "reverted")
    assert (back["FunctionVersion"], weights(back), back["Description"]) == ("1", {}, "")


def test_an_alias_moved_by_someone_else_mid_shift_stops_the_deployment_and_stays_as_they_set_it(
    aws: LocalAws, deploy: Deploy, begun_shift: BeginShift, tmp_path: Path
) -> None:
    folder = released_then_changed(deploy, tmp_path / "contested", canary(30, 1))
    deployer, state = begun_shift(folder)
    aws.client("lambda").update_alias(
        FunctionName="contested",
        Name="live",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {}},
        Description="hotfix by hand",
    )

    with pytest.raises(DeploymentSuperseded) as raised:
        deployer.advance(state)

    assert str(raised.value) == (
        "contested: alias live was changed during step 1 of 1 (30%) by someone else: it sends version 2 "
        "alone, not version 1 with 30% to version 2; left as it is, this deployment stops"
    )
    kept = alias(aws, "contested")
    assert (kept["FunctionVersion"], weights(kept), kept["Description"]) == ("2", {}, "hotfix by hand")


def test_a_shift_keeps_the_thresholds_it_began_with_when_function_toml_changes_mid_shift(
    aws: LocalAws, deploy: Deploy, begun_shift: BeginShift, tmp_path: Path
) -> None:
    """A deferred deploy resumes each step from its task's files: an edit there must not change the
    verdict of a shift already under way (nothing invokes the alias, so 0 invocations are healthy)."""
    folder = released_then_changed(deploy, tmp_path / "edited", canary(30, 1))
    _, state = begun_shift(folder)
    (folder / "function.toml").write_text(
        'runtime = "python3.11"\nhandler = "app.handler"\n' + canary(30, 1, "min_invocations = 1000\n")
    )
    resumed = FunctionDeployer(
        function_dir=folder, lambda_hook=LambdaHook(aws_conn_id=None), iam_hook=IamHook(aws_conn_id=None)
    )

    state = resumed.advance(DeployState.from_dict(state.to_dict()))

    assert state.traffic_wait_seconds == 0
    settled = alias(aws, "edited")
    assert (settled["FunctionVersion"], weights(settled)) == ("2", {})


def write_post_hook(folder: Path, fails: bool) -> Path:
    """``verify``: a post-traffic hook that passes, or fails naming the version."""
    folder.mkdir(parents=True, exist_ok=True)
    raise_line = "    raise ValueError('version ' + event['new_version'] + ' is wrong')\n" if fails else ""
    (folder / "app.py").write_text(f"def handler(event, context):\n{raise_line}    return event\n")
    (folder / "function.toml").write_text('runtime = "python3.11"\nhandler = "app.handler"\n')
    return folder


def test_a_deploy_lost_before_its_post_traffic_hook_runs_the_hook_on_retry(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    """The alias as a worker killed between the 100% write and the hook leaves it."""
    deploy(write_post_hook(tmp_path / "verify", fails=True))
    folder = released_then_changed(
        deploy, tmp_path / "posted", canary(30, 1, 'post_traffic_hook = "verify"\n')
    )
    deploy(folder, overrides={"deployment": "AllAtOnce"})  # version 2 published and on the alias
    lost_at = (
        "lambdapipe deployment: v1 -> v2 custom (30% for 1s, then 100%): 100%, post_traffic_hook pending"
    )
    lambda_client = aws.client("lambda")
    lambda_client.update_alias(FunctionName="posted", Name="live", FunctionVersion="2", Description=lost_at)

    with pytest.raises(
        DeploymentRolledBack, match="post_traffic_hook verify failed with ValueError: version 2"
    ):
        deploy(folder)
    assert (alias(aws, "posted")["FunctionVersion"], weights(alias(aws, "posted"))) == ("1", {})

    deploy(write_post_hook(tmp_path / "verify", fails=False))
    lambda_client.update_alias(FunctionName="posted", Name="live", FunctionVersion="2", Description=lost_at)
    resumed = deploy(folder)
    assert (resumed.version, resumed.deployment) == ("2", ["100%"])
    assert alias(aws, "posted")["Description"].endswith(": completed (100%)")
    assert deploy(folder).deployment == []  # done: the hook is not run again


def test_a_new_execution_role_stops_a_canary_before_traffic_since_lambda_cannot_split_across_roles(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    folder = released_then_changed(deploy, tmp_path / "rerolled", canary(10, 1))
    iam = aws.client("iam")
    other = iam.create_role(RoleName="rerolled-other", AssumeRolePolicyDocument=LAMBDA_ASSUME_ROLE)["Role"]

    with pytest.raises(DeploymentStopped) as stopped:
        deploy(folder, role_arn=other["Arn"])

    assert "versions 1 and 2 run as different execution roles (" in str(stopped.value)
    assert 'deploy this change all at once (deployment = "AllAtOnce")' in str(stopped.value)
    assert (alias(aws, "rerolled")["FunctionVersion"], weights(alias(aws, "rerolled"))) == ("1", {})
    settled = deploy(folder, role_arn=other["Arn"], overrides={"deployment": "AllAtOnce"})
    assert (settled.version, alias(aws, "rerolled")["FunctionVersion"]) == ("2", "2")
