"""``Event`` invocations and ``LambdaInvocationSensor``: each waiter takes its own completion record
from the function's SQS destination and leaves everyone else's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import DAG, task

from lambdapipe.operators.lambda_invoke import LambdaInvokeOperator
from lambdapipe.sensors.lambda_function import LambdaInvocationSensor
from lambdapipe.triggers.lambda_invocation import LambdaInvocationTrigger
from lambdapipe_local import LocalAws
from tests.support.dag_runs import task_states
from tests.support.dag_test import run_dag, task_log, triggers_created, xcom

QUEUE = "completions"


@pytest.fixture
def completions_queue(aws: LocalAws, make_function: Callable[..., str]) -> str:
    """One queue as OnSuccess and OnFailure destination of ``async_echo`` and ``async_boom``."""
    sqs, lambda_client = aws.client("sqs"), aws.client("lambda")
    queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    for name, handler in (("async_echo", "echo"), ("async_boom", "unhandled")):
        make_function(name, handler)
        lambda_client.put_function_event_invoke_config(
            FunctionName=name,
            MaximumRetryAttempts=0,
            DestinationConfig={
                "OnSuccess": {"Destination": queue_arn},
                "OnFailure": {"Destination": queue_arn},
            },
        )
    return queue_url


def queued_request_ids(aws: LocalAws, queue_url: str) -> list[str]:
    """Request ids of the records visible on the queue now (read without keeping them)."""
    sqs = aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages", []
    )
    return sorted(json.loads(message["Body"])["requestContext"]["requestId"] for message in messages)


def test_event_invoke_returns_its_request_id_and_each_sensor_gets_its_own_record_in_both_modes(
    aws: LocalAws, aws_connection: str, completions_queue: str
) -> None:
    @task
    def both_completed() -> None:
        aws.wait_for_async()

    with DAG(dag_id="async_two_sensors_one_queue", schedule=None) as dag:
        invokes = [
            LambdaInvokeOperator(
                task_id=f"invoke_{name}",
                function_name="async_echo",
                invocation_type="Event",
                payload={"n": n},
            )
            for name, n in (("a", 1), ("b", 2))
        ]
        sensors = [
            LambdaInvocationSensor(
                task_id=f"wait_{name}",
                function_name="async_echo",
                request_id=f"{{{{ ti.xcom_pull('invoke_{name}')['request_id'] }}}}",
                deferrable=deferrable,
                poke_interval=1,
                timeout=60,
            )
            for name, deferrable in (("a", True), ("b", False))
        ]
        # Both records are on the queue before either sensor starts; the first must leave the other's.
        invokes >> both_completed() >> sensors[0] >> sensors[1]
    triggers_before = triggers_created(LambdaInvocationTrigger)

    run = run_dag(dag)

    assert set(task_states(run).values()) == {"success"}
    invoked_a, invoked_b = xcom(run, "invoke_a"), xcom(run, "invoke_b")
    assert invoked_a == {
        "function_name": "async_echo",
        "qualifier": None,
        "request_id": invoked_a["request_id"],
        "status_code": 202,
    }
    assert len({invoked_a["request_id"], invoked_b["request_id"]}) == 2
    assert xcom(run, "wait_a") == {"received": {"n": 1}}
    assert xcom(run, "wait_b") == {"received": {"n": 2}}
    assert triggers_created(LambdaInvocationTrigger) - triggers_before == 1
    assert queued_request_ids(aws, completions_queue) == []


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_a_try_that_dies_after_finding_its_record_leaves_it_on_the_queue_for_the_retry(
    aws: LocalAws, aws_connection: str, completions_queue: str, deferrable: bool
) -> None:
    tries: list[int] = []

    def die_once(context: Any, result: Any) -> None:
        tries.append(context["ti"].try_number)
        if len(tries) == 1:
            raise RuntimeError("the worker died after the sensor found its record")

    with DAG(dag_id=f"async_sensor_retry_{deferrable}", schedule=None) as dag:
        invoke = LambdaInvokeOperator(
            task_id="invoke", function_name="async_echo", invocation_type="Event", payload={"n": 7}
        )
        wait = LambdaInvocationSensor(
            task_id="wait",
            function_name="async_echo",
            request_id="{{ ti.xcom_pull('invoke')['request_id'] }}",
            visibility_timeout=60,  # the retry sees it at once: the failed try released it
            deferrable=deferrable,
            poke_interval=1,
            timeout=30,
            retries=1,
            retry_delay=timedelta(0),
            post_execute=die_once,
        )
        invoke >> wait

    run = run_dag(dag)

    assert (task_states(run), tries) == ({"invoke": "success", "wait": "success"}, [1, 2])
    assert xcom(run, "wait") == {"received": {"n": 7}}
    hidden = aws.client("sqs").get_queue_attributes(
        QueueUrl=completions_queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]["ApproximateNumberOfMessagesNotVisible"]
    assert (queued_request_ids(aws, completions_queue), hidden) == ([], "0")  # deleted, not merely hidden


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_a_failed_async_invocation_fails_the_sensor_with_the_error_record(
    deferrable: bool,
    aws: LocalAws,
    aws_connection: str,
    completions_queue: str,
    capsys: pytest.CaptureFixture,
) -> None:
    @task
    def completed() -> None:
        aws.wait_for_async()

    with DAG(dag_id=f"async_failure_{'deferrable' if deferrable else 'poke'}", schedule=None) as dag:
        invoke = LambdaInvokeOperator(
            task_id="invoke", function_name="async_boom", invocation_type="Event", payload={"order_id": 7}
        )
        wait = LambdaInvocationSensor(
            task_id="wait",
            function_name="async_boom",
            request_id="{{ ti.xcom_pull('invoke')['request_id'] }}",
            deferrable=deferrable,
            poke_interval=1,
            timeout=60,
        )
        invoke >> completed() >> wait

    run = run_dag(dag)
    request_id = xcom(run, "invoke")["request_id"]

    assert task_states(run)["wait"] == "failed"
    assert (
        f"async_boom request {request_id} failed after 1 attempt(s) (RetriesExhausted): ValueError: bad order 7"
    ) in task_log(capsys)


def test_concurrent_waiters_on_one_queue_each_take_their_own_record_and_leave_the_rest(
    aws: LocalAws, aws_connection: str, completions_queue: str
) -> None:
    lambda_client = aws.client("lambda")
    request_ids = [
        lambda_client.invoke(FunctionName="async_echo", InvocationType="Event", Payload=json.dumps({"n": n}))[
            "ResponseMetadata"
        ]["RequestId"]
        for n in range(3)
    ]
    aws.wait_for_async()

    async def first_event(request_id: str) -> dict[str, Any]:
        trigger = LambdaInvocationTrigger(
            request_id=request_id, queue_urls=[completions_queue], timeout=30, poll_interval=1
        )
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    async def wait_for_two() -> list[dict[str, Any]]:
        return await asyncio.gather(first_event(request_ids[0]), first_event(request_ids[1]))

    events = asyncio.run(wait_for_two())

    assert [event["status"] for event in events] == ["success", "success"]
    assert [event["record"]["request_id"] for event in events] == request_ids[:2]
    assert [event["record"]["response_payload"] for event in events] == [
        {"received": {"n": 0}},
        {"received": {"n": 1}},
    ]
    # Nobody waited for the third invocation: its record is still there for its own waiter.
    assert queued_request_ids(aws, completions_queue) == [request_ids[2]]


def test_a_deferred_sensor_that_gets_no_record_times_out_naming_the_request_and_the_queue(
    aws_connection: str, completions_queue: str, capsys: pytest.CaptureFixture
) -> None:
    with DAG(dag_id="async_sensor_timeout", schedule=None) as dag:
        LambdaInvocationSensor(
            task_id="wait",
            function_name="async_echo",
            request_id="never-invoked",
            deferrable=True,
            poke_interval=1,
            timeout=2,
        )

    run = run_dag(dag)

    assert task_states(run) == {"wait": "failed"}
    assert (
        f"AirflowSensorTimeout: async_echo request never-invoked: no completion record on {completions_queue} "
        "within 2.0 s"
    ) in task_log(capsys)


@pytest.mark.parametrize("deferrable", [False, True], ids=["poke", "deferrable"])
def test_a_function_without_sqs_destinations_is_a_clear_configuration_error(
    deferrable: bool, aws_connection: str, make_function: Callable[..., str], capsys: pytest.CaptureFixture
) -> None:
    make_function("no_destinations", "echo")
    with DAG(dag_id=f"async_no_destinations_{'deferrable' if deferrable else 'poke'}", schedule=None) as dag:
        LambdaInvocationSensor(
            task_id="wait",
            function_name="no_destinations",
            request_id="any",
            deferrable=deferrable,
            poke_interval=1,
            timeout=30,
        )

    run = run_dag(dag)

    assert task_states(run) == {"wait": "failed"}
    assert (
        "ValueError: no_destinations has no SQS OnSuccess/OnFailure destination to wait on: set [event_invoke] "
        "on_success / on_failure in its function.toml (or pass the queue URLs explicitly)"
    ) in task_log(capsys)


def test_waiting_for_one_record_never_pushes_another_requests_record_to_the_dead_letter_queue(
    aws: LocalAws, aws_connection: str
) -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    from lambdapipe.invoking.completion_records import hold_record

    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="completions-with-dlq")["QueueUrl"]
    dlq_url = sqs.create_queue(QueueName="completions-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"RedrivePolicy": json.dumps(redrive)})
    record = {"requestContext": {"requestId": "someone-else", "condition": "Success"}, "responsePayload": 1}
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))

    async def wait_five_polls() -> None:
        async with await AwsBaseHook(
            aws_conn_id=aws_connection, client_type="sqs"
        ).get_async_conn() as client:
            for _ in range(5):
                assert await hold_record(client, [queue_url], "mine", wait_s=0) is None

    asyncio.run(wait_five_polls())

    assert queued_request_ids(aws, queue_url) == ["someone-else"]
    assert sqs.receive_message(QueueUrl=dlq_url).get("Messages", []) == []
