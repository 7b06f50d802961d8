"""S3 event messages read from a queue of the local stack: good records taken, bad messages left for others."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from lambdapipe.events.s3_events import ObjectFilter
from lambdapipe.events.s3_queue import acknowledge, hold_objects
from lambdapipe_local import LocalAws
from tests.support.s3_event_messages import body, record


def test_the_queue_consumer_takes_good_records_and_leaves_bad_messages_for_others(
    aws: LocalAws, aws_environment: dict[str, str]
) -> None:
    sqs = aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="shared-events")["QueueUrl"]
    for message_body in (
        "not json",
        body("Records", None),
        json.dumps({"Type": "Notification", "Message": {"not": "text"}}),
        body(record("uploads/kept.png"), {"broken": True}),
    ):
        sqs.send_message(QueueUrl=queue_url, MessageBody=message_body)

    async def poll() -> Any:
        from airflow.providers.amazon.aws.hooks.sqs import SqsHook

        async with await SqsHook(aws_conn_id=None).get_async_conn() as client:
            held = await hold_objects(client, queue_url, ObjectFilter(prefix="uploads/"), max_messages=10)
            await acknowledge(client, queue_url, held.held)
            return held

    taken = asyncio.run(poll())

    assert [event.key for event in taken.taken] == ["uploads/kept.png"]
    left = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages", []
    )
    assert len(left) == 3, "the three messages that are no S3 event stay on the queue, untouched"
