"""S3UploadSensor under ``dag.test()`` (deferred: the trigger runs inline) and in poke mode, against a
bucket on the local stack whose notifications really go to an SQS queue another consumer shares."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from airflow.sdk import DAG

from lambdapipe.events.s3_events import ObjectFilter
from lambdapipe.events.s3_queue import acknowledge, hold_objects
from lambdapipe.sensors.s3 import S3UploadSensor
from lambdapipe_local import LocalAws
from tests.support.aws_setup import use_aws_default_connection
from tests.support.dag_runs import register, task_states, xcom_return_values

pytestmark = pytest.mark.timeout(300)

BUCKET = "photos"


@dataclass(frozen=True)
class NotifyingBucket:
    """A bucket whose object events all go to ``queue_url``."""

    s3: Any
    sqs: Any
    queue_url: str

    def put(self, *keys: str) -> None:
        for key in keys:
            self.s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")

    def hidden(self) -> int:
        """Messages received and neither deleted nor released: a consumer still holds them."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def remaining(self) -> list[str]:
        """What the visible messages are about (keys, or <event>), received with no wait, then released."""
        found, handles = [], []
        while messages := self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                handles.append(message["ReceiptHandle"])
                try:
                    body = json.loads(message["Body"])
                except ValueError:
                    found.append("<not json>")
                    continue
                found += [record["s3"]["object"]["key"] for record in body.get("Records", [])]
                found += [f"<{body['Event']}>"] if "Event" in body else []
        for handle in handles:
            self.sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=handle, VisibilityTimeout=0
            )
        return sorted(found)


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws(check_signatures=True) as aws:
        yield aws


@pytest.fixture
def bucket(local_aws: LocalAws, airflow_db: None, monkeypatch: pytest.MonkeyPatch) -> NotifyingBucket:
    """A fresh stack with the bucket and its queue; tasks reach it only through ``aws_default``."""
    local_aws.reset()
    use_aws_default_connection(local_aws.endpoint_url, monkeypatch)
    s3, sqs = local_aws.client("s3"), local_aws.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    queue_url = sqs.create_queue(QueueName="photo-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    return NotifyingBucket(s3, sqs, queue_url)


def sensor_dag(dag_id: str, **sensor_args: Any) -> DAG:
    with DAG(dag_id=dag_id, schedule=None, default_args={"retries": 0}) as dag:
        S3UploadSensor(task_id="wait", poke_interval=1, **sensor_args)
    register(dag)
    return dag


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "poke"])
def test_returns_the_matching_objects_with_decoded_keys_and_deletes_only_their_messages(
    bucket: NotifyingBucket, deferrable: bool
) -> None:
    bucket.put("incoming/a b+c ü.jpg", "incoming/x.png", "other/y.jpg", "incoming/z.txt")
    dag = sensor_dag(
        f"upload_sensor_match_{deferrable}",
        sqs_queue=bucket.queue_url,
        prefix="incoming/",
        pattern=r"\.(jpg|png)$",
        min_count=2,
        timeout=60,
        deferrable=deferrable,
    )

    run = dag.test()

    assert task_states(run) == {"wait": "success"}
    objects = xcom_return_values(run)["wait"]
    assert sorted(obj["key"] for obj in objects) == ["incoming/a b+c ü.jpg", "incoming/x.png"]
    assert {(obj["bucket"], obj["event_name"], obj["size"]) for obj in objects} == {
        (BUCKET, "ObjectCreated:Put", 1)
    }
    # The objects' messages were deleted once the task succeeded (none is still held) and the other
    # objects' messages were released at once, for the queue's other consumers.
    assert bucket.hidden() == 0
    assert [key for key in bucket.remaining() if not key.startswith("<")] == ["incoming/z.txt", "other/y.jpg"]


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "poke"])
def test_a_try_that_dies_after_finding_its_objects_leaves_their_messages_for_the_retry(
    bucket: NotifyingBucket, deferrable: bool
) -> None:
    bucket.put("incoming/a.jpg")
    tries: list[int] = []

    def die_once(context: Any, result: Any) -> None:
        tries.append(context["ti"].try_number)
        if len(tries) == 1:
            raise RuntimeError("the worker died after the sensor found its objects")

    with DAG(dag_id=f"upload_sensor_retry_{deferrable}", schedule=None) as dag:
        S3UploadSensor(
            task_id="wait",
            sqs_queue=bucket.queue_url,
            prefix="incoming/",
            visibility_timeout=60,  # the retry sees them at once: the failed try released them
            poke_interval=1,
            timeout=20,
            deferrable=deferrable,
            retries=1,
            retry_delay=timedelta(0),
            post_execute=die_once,
        )
    register(dag)

    run = dag.test()

    assert (task_states(run), tries) == ({"wait": "success"}, [1, 2])
    assert [obj["key"] for obj in xcom_return_values(run)["wait"]] == ["incoming/a.jpg"]
    assert bucket.hidden() == 0  # deleted after success, not merely hidden
    assert [key for key in bucket.remaining() if not key.startswith("<")] == []


@pytest.mark.parametrize("deferrable", [True, False], ids=["deferred", "poke"])
def test_too_few_objects_time_out_with_a_clear_error_and_consume_nothing(
    bucket: NotifyingBucket, deferrable: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket.put("incoming/only-one.jpg")
    dag = sensor_dag(
        f"upload_sensor_timeout_{deferrable}",
        sqs_queue=bucket.queue_url,
        prefix="incoming/",
        min_count=2,
        timeout=3,
        deferrable=deferrable,
    )

    run = dag.test()

    assert task_states(run) == {"wait": "failed"}
    log = capsys.readouterr().out
    assert "AirflowSensorTimeout" in log
    assert "1 of the 2 wanted object(s) (prefix='incoming/', suffix='', pattern=None)" in log
    assert "incoming/only-one.jpg" in bucket.remaining()


def test_min_count_above_max_messages_is_refused_when_the_dag_is_defined() -> None:
    with pytest.raises(
        ValueError, match="wait: min_count must be between 1 and max_messages \\(10\\), got 11"
    ):
        S3UploadSensor(task_id="wait", sqs_queue="https://example/q", min_count=11, max_messages=10)


def test_a_wanted_record_is_taken_the_other_records_of_its_message_and_other_messages_stay_and_a_duplicate_counts_once(
    bucket: NotifyingBucket,
) -> None:
    mixed = [s3_record("in%2Fwanted+1.jpg", "01"), s3_record("out%2Fother.jpg", "02")]
    bucket.sqs.send_message(QueueUrl=bucket.queue_url, MessageBody=json.dumps({"Records": mixed}))
    again = [s3_record("in%2Fwanted+1.jpg", "01")]  # S3 delivers at least once: the same record again
    bucket.sqs.send_message(QueueUrl=bucket.queue_url, MessageBody=json.dumps({"Records": again}))
    bucket.sqs.send_message(QueueUrl=bucket.queue_url, MessageBody="not json at all")

    poll = asyncio.run(take(bucket.queue_url, ObjectFilter(prefix="in/")))

    assert [(event.key, event.sequencer) for event in poll.taken] == [("in/wanted 1.jpg", "01")]
    assert poll.visible == 1
    # S3 sent the test event when the bucket's notification was configured; the mixed message's other
    # record is another consumer's: it is sent back to the queue on its own before the message is deleted.
    assert bucket.remaining() == ["<not json>", "<s3:TestEvent>", "out%2Fother.jpg"]


def test_polls_of_a_consumer_that_does_not_want_a_message_do_not_push_it_to_the_dead_letter_queue_early(
    bucket: NotifyingBucket,
) -> None:
    sqs = bucket.sqs
    dlq_url = sqs.create_queue(QueueName="photo-events-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}
    sqs.set_queue_attributes(QueueUrl=bucket.queue_url, Attributes={"RedrivePolicy": json.dumps(redrive)})
    theirs = [s3_record("out%2Ftheirs.jpg", "01")]
    sqs.send_message(QueueUrl=bucket.queue_url, MessageBody=json.dumps({"Records": theirs}))

    for _ in range(6):  # a sensor for in/ polling while the out/ consumer is away
        assert asyncio.run(take(bucket.queue_url, ObjectFilter(prefix="in/"))).taken == []

    assert "out%2Ftheirs.jpg" in bucket.remaining()
    assert sqs.receive_message(QueueUrl=dlq_url).get("Messages", []) == []

    for _ in range(20):  # no consumer ever takes it: after a few renewals it goes where it belongs
        asyncio.run(take(bucket.queue_url, ObjectFilter(prefix="in/")))
    dead = [
        json.loads(message["Body"])
        for message in sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10)["Messages"]
    ]
    assert {"Records": theirs} in dead  # with S3's test event, which no one takes either


def s3_record(encoded_key: str, sequencer: str) -> dict[str, Any]:
    return {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": BUCKET}, "object": {"key": encoded_key, "size": 1, "sequencer": sequencer}},
    }


async def take(queue_url: str, wanted: ObjectFilter) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    async with await AwsBaseHook(client_type="sqs", aws_conn_id="aws_default").get_async_conn() as sqs:
        poll = await hold_objects(sqs, queue_url, wanted)
        await acknowledge(sqs, queue_url, poll.held)  # as the sensor does once its task succeeded
        return poll
