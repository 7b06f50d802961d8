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

from lambdapipe.deploy.deployer import DeployResult
from lambdapipe.deploy.errors import DeployError
from lambdapipe.deploy.traffic_shift import DeploymentRolledBack, DeploymentStopped
from lambdapipe.operators.lambda_function import LambdaDeployFunctionOperator
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule
from tests.support.aws_calls import write_calls
from tests.support.dag_runs import (
    TRAFFIC_STEP_TRIGGER,
    deploy_triggers_created,
    register,
    task_states,
    xcom_return_values,
)

Deploy = Callable[..., DeployResult]

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
    assert 25 <= float(rate[1]) <= 35
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
        while not weights(alias(aws, "alarmed")):
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
