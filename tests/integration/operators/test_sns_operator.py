"""SnsNotifyOperator in ``dag.test()`` runs: an upstream's empty answer sends nothing and logs no error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.sdk import DAG, task

from lambdapipe.idempotency import IdempotencyStore
from lambdapipe.operators.sns import SnsNotifyOperator
from lambdapipe_local import LocalAws
from tests.support.dag_runs import task_states
from tests.support.dag_test import run_dag, task_log, xcom

TABLE = "idempotency"


@pytest.fixture
def topic_with_inbox(aws: LocalAws, aws_connection: str) -> tuple[str, str]:
    sns, sqs = aws.client("sns"), aws.client("sqs")
    IdempotencyStore(aws.client("dynamodb"), TABLE).ensure_table()
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    inbox = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    return topic, inbox


def _alert_dag(dag_id: str, topic: str, alert: dict[str, Any]) -> DAG:
    with DAG(dag_id=dag_id, schedule=None) as dag:

        @task
        def alert_message() -> dict[str, Any]:
            return alert

        SnsNotifyOperator(
            task_id="notify_alert",
            topic_arn=topic,
            message=alert_message(),
            kind="alert",
            idempotency_table=TABLE,
        )
    return dag


def test_an_upstream_with_no_alert_sends_nothing_and_logs_no_error(
    aws: LocalAws, topic_with_inbox: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    topic, inbox = topic_with_inbox

    run = run_dag(_alert_dag("no_alert", topic, {}))

    assert task_states(run) == {"alert_message": "success", "notify_alert": "success"}
    assert xcom(run, "notify_alert")["sent"] is False
    assert "Messages" not in aws.client("sqs").receive_message(QueueUrl=inbox, WaitTimeSeconds=0)
    log = task_log(capsys)
    assert "No alert message for this run: nothing to send" in log
    assert "[error" not in log and "XCom not found" not in log


def test_an_alert_is_sent_once_with_its_run_id(aws: LocalAws, topic_with_inbox: tuple[str, str]) -> None:
    topic, inbox = topic_with_inbox

    run = run_dag(_alert_dag("an_alert", topic, {"reason": "reject rate 40%"}))

    received = aws.client("sqs").receive_message(QueueUrl=inbox, WaitTimeSeconds=1, MaxNumberOfMessages=10)
    [message] = received["Messages"]
    body = json.loads(message["Body"])
    assert json.loads(body["Message"]) == {"reason": "reject rate 40%"}
    assert body["MessageAttributes"]["run_id"]["Value"] == run.run_id
    assert xcom(run, "notify_alert")["sent"] is True
