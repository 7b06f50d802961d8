"""Event invocations, retries, destinations, and the AWS triggers that invoke Lambda asynchronously."""

from __future__ import annotations

import json
import time

import pytest

from lambdapipe_local.lambda_runtime.event_sources import SCAN_INTERVAL_S
from tests.support.local_stack import create_streamed_table, wait_until


@pytest.fixture
def bucket(aws) -> str:
    aws.client("s3").create_bucket(Bucket="probe-bucket")
    return "probe-bucket"


@pytest.fixture
def queue(aws):
    """Returns a function that creates a queue and gives (url, arn)."""
    sqs = aws.client("sqs")

    def create(name: str, **attributes: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    return create


def _receive_all(aws, url: str, expected: int) -> list[dict]:
    sqs = aws.client("sqs")
    messages: list[dict] = []

    def more() -> bool:
        response = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        messages.extend(response.get("Messages", []))
        return len(messages) >= expected

    wait_until(more, what=f"{expected} message(s) on {url}")
    return messages


def _recorded_events(aws, bucket: str, expected: int) -> list[dict]:
    """The events the ``probe.record`` handler stored, once at least ``expected`` exist."""
    s3 = aws.client("s3")

    def listing() -> list[dict] | None:
        contents = s3.list_objects_v2(Bucket=bucket, Prefix="events/").get("Contents", [])
        return contents if len(contents) >= expected else None

    contents = wait_until(listing, what=f"{expected} recorded event(s)")
    return [json.loads(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()) for obj in contents]


def test_failed_event_is_retried_and_succeeds_within_maximum_retry_attempts(
    make_function, python_probe_zip, lambda_client, aws, bucket, queue
):
    success_url, success_arn = queue("on-success")
    make_function("flaky", python_probe_zip, "probe.flaky", Timeout=10)
    lambda_client.put_function_event_invoke_config(
        FunctionName="flaky",
        MaximumRetryAttempts=2,
        DestinationConfig={"OnSuccess": {"Destination": success_arn}},
    )
    event = {"bucket": bucket, "id": "a", "fail_times": 2}
    response = lambda_client.invoke(FunctionName="flaky", InvocationType="Event", Payload=json.dumps(event))
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    (message,) = _receive_all(aws, success_url, 1)
    record = json.loads(message["Body"])
    assert record["version"] == "1.0"
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(":function:flaky")
    assert record["requestPayload"] == event
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"attempts": 3}


def test_event_that_keeps_failing_goes_to_on_failure_after_its_retries(
    make_function, python_probe_zip, lambda_client, aws, queue
):
    failure_url, failure_arn = queue("on-failure")
    make_function("always-fails", python_probe_zip, "probe.fail")
    lambda_client.put_function_event_invoke_config(
        FunctionName="always-fails",
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    lambda_client.invoke(FunctionName="always-fails", InvocationType="Event", Payload=b'{"order_id": 9}')
    (message,) = _receive_all(aws, failure_url, 1)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "bad order 9"
    assert record["requestPayload"] == {"order_id": 9}


def test_on_failure_destination_can_be_an_sns_topic(
    make_function, python_probe_zip, lambda_client, aws, queue
):
    url, queue_arn = queue("topic-reader")
    sns = aws.client("sns")
    topic_arn = sns.create_topic(Name="lambda-failures")["TopicArn"]
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    make_function("fails-to-sns", python_probe_zip, "probe.fail")
    lambda_client.put_function_event_invoke_config(
        FunctionName="fails-to-sns",
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": topic_arn}},
    )
    lambda_client.invoke(FunctionName="fails-to-sns", InvocationType="Event", Payload=b'{"order_id": 1}')
    (message,) = _receive_all(aws, url, 1)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_failed_event_without_destination_goes_to_the_dead_letter_queue(
    make_function, python_probe_zip, lambda_client, aws, queue
):
    dlq_url, dlq_arn = queue("dlq")
    make_function("with-dlq", python_probe_zip, "probe.fail", DeadLetterConfig={"TargetArn": dlq_arn})
    assert lambda_client.get_function_configuration(FunctionName="with-dlq")["DeadLetterConfig"] == {
        "TargetArn": dlq_arn
    }
    lambda_client.put_function_event_invoke_config(FunctionName="with-dlq", MaximumRetryAttempts=0)
    response = lambda_client.invoke(
        FunctionName="with-dlq", InvocationType="Event", Payload=b'{"order_id": 5}'
    )
    (message,) = _receive_all(aws, dlq_url, 1)
    assert json.loads(message["Body"]) == {"order_id": 5}
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["RequestID"] == response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert attributes["ErrorMessage"] == "bad order 5"


def test_event_older_than_maximum_event_age_is_dropped_to_on_failure(
    make_function, python_probe_zip, lambda_client, aws, queue
):
    failure_url, failure_arn = queue("too-old")
    make_function("aging", python_probe_zip, "probe.fail")
    lambda_client.put_function_event_invoke_config(
        FunctionName="aging",
        MaximumRetryAttempts=2,
        MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": failure_arn}},
    )
    # Make every retry wait longer than the event may live.
    aws._service.async_invoker.retry_delays_s = (61.0,)
    from lambdapipe_local.lambda_runtime import async_invoke

    original_clock = async_invoke.time.monotonic
    try:
        lambda_client.invoke(FunctionName="aging", InvocationType="Event", Payload=b"{}")
        wait_until(
            lambda: aws.runtime_stats()["environments_created"] == 1 and aws._service.async_invoker._heap,
            what="the first attempt to fail and its retry to be scheduled",
        )
        offset = 62.0
        async_invoke.time.monotonic = lambda: original_clock() + offset
        with aws._service.async_invoker._wakeup:
            aws._service.async_invoker._wakeup.notify_all()
        (message,) = _receive_all(aws, failure_url, 1)
    finally:
        async_invoke.time.monotonic = original_clock
        aws._service.async_invoker.retry_delays_s = aws.async_retry_delays_s
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 1


def test_s3_notification_invokes_lambda_asynchronously_with_the_s3_event(
    make_function, python_probe_zip, lambda_client, aws, bucket
):
    function_arn = make_function(
        "on-upload",
        python_probe_zip,
        "probe.record",
        Environment={"Variables": {"RECORD_BUCKET": bucket, "RECORD_DELAY_S": "1"}},
        Timeout=10,
    )
    arn = lambda_client.get_function(FunctionName=function_arn)["Configuration"]["FunctionArn"]
    s3 = aws.client("s3")
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [
                {
                    "LambdaFunctionArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
                }
            ]
        },
    )
    s3.put_object(Bucket=bucket, Key="incoming/a photo+1.jpg", Body=b"jpeg")
    assert not s3.list_objects_v2(Bucket=bucket, Prefix="events/").get("Contents"), "ran inside PutObject"
    (event,) = _recorded_events(aws, bucket, 1)
    (record,) = event["Records"]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"].startswith("ObjectCreated:")
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["object"]["key"] == "incoming/a+photo%2B1.jpg"


def test_sns_publish_invokes_lambda_asynchronously_with_the_real_notification(
    make_function, python_probe_zip, lambda_client, aws, bucket
):
    make_function(
        "on-message",
        python_probe_zip,
        "probe.record",
        Environment={"Variables": {"RECORD_BUCKET": bucket, "RECORD_DELAY_S": "1"}},
        Timeout=10,
    )
    arn = lambda_client.get_function(FunctionName="on-message")["Configuration"]["FunctionArn"]
    sns = aws.client("sns")
    topic_arn = sns.create_topic(Name="orders")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=arn)
    published = sns.publish(
        TopicArn=topic_arn,
        Message="order 7 shipped",
        Subject="shipping",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "summary"}},
    )
    assert not aws.client("s3").list_objects_v2(Bucket=bucket, Prefix="events/").get("Contents")
    (event,) = _recorded_events(aws, bucket, 1)
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns"
    notification = record["Sns"]
    assert notification["TopicArn"] == topic_arn
    assert notification["MessageId"] == published["MessageId"]
    assert notification["Message"] == "order 7 shipped"
    assert notification["Subject"] == "shipping"
    assert notification["MessageAttributes"]["kind"] == {"Type": "String", "Value": "summary"}


def test_sqs_event_source_mapping_delivers_batches(
    make_function, python_probe_zip, lambda_client, aws, bucket, queue
):
    url, queue_arn = queue("work")
    make_function(
        "batcher", python_probe_zip, "probe.record", Environment={"Variables": {"RECORD_BUCKET": bucket}}
    )
    sqs = aws.client("sqs")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"job {i}"} for i in range(7)]
    )
    lambda_client.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName="batcher", BatchSize=10, MaximumBatchingWindowInSeconds=1
    )
    events = _recorded_events(aws, bucket, 1)
    bodies = sorted(record["body"] for event in events for record in event["Records"])
    assert bodies == [f"job {i}" for i in range(7)]
    assert len(events) < 7, "one invoke per message is not how Lambda polls SQS"
    record = events[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue_arn
    # Successful batches are deleted from the queue.
    wait_until(
        lambda: (
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
            == "0"
        ),
        what="the batch to be deleted",
    )


def test_sqs_partial_batch_failure_keeps_only_the_failed_messages(
    make_function, python_probe_zip, lambda_client, aws, queue
):
    url, queue_arn = queue("partial", VisibilityTimeout="1")
    dlq_url, dlq_arn = queue("partial-dlq")
    sqs = aws.client("sqs")
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})},
    )
    make_function("partial", python_probe_zip, "probe.partial_batch")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": "0", "MessageBody": "ok"}, {"Id": "1", "MessageBody": "fail"}]
    )
    lambda_client.create_event_source_mapping(
        EventSourceArn=queue_arn,
        FunctionName="partial",
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    (dead,) = _receive_all(aws, dlq_url, 1)
    assert dead["Body"] == "fail"


def test_dynamodb_stream_mapping_delivers_new_images_and_leaves_the_stream_readable(
    make_function, python_probe_zip, lambda_client, aws, bucket
):
    ddb = aws.client("dynamodb")
    stream_arn = create_streamed_table(ddb, "orders", "order_id")
    make_function(
        "on-order",
        python_probe_zip,
        "probe.record",
        Environment={"Variables": {"RECORD_BUCKET": bucket}},
        Timeout=30,  # a timeout on a loaded machine would re-deliver the batch: at-least-once, as on AWS
    )
    lambda_client.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName="on-order", StartingPosition="TRIM_HORIZON", BatchSize=100
    )
    for order_id in ("o-1", "o-2", "o-3"):
        ddb.put_item(TableName="orders", Item={"order_id": {"S": order_id}, "total": {"N": "10"}})
    wait_until(
        lambda: sum(len(e["Records"]) for e in _recorded_events(aws, bucket, 1)) >= 3,
        what="three stream records",
    )
    events = _recorded_events(aws, bucket, 1)
    records = [record for event in events for record in event["Records"]]
    assert [r["dynamodb"]["NewImage"]["order_id"]["S"] for r in records] == ["o-1", "o-2", "o-3"]
    assert {r["eventName"] for r in records} == {"INSERT"}
    assert records[0]["eventSourceARN"] == stream_arn
    # Unlike moto's inline delivery, the stream still holds the records for other readers.
    streams = aws.client("dynamodbstreams")
    shard = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
    )
    assert len(streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]) == 3


def test_disabled_mapping_does_not_deliver(
    make_function, python_probe_zip, lambda_client, aws, bucket, queue
):
    url, queue_arn = queue("paused")
    make_function(
        "paused", python_probe_zip, "probe.record", Environment={"Variables": {"RECORD_BUCKET": bucket}}
    )
    mapping = lambda_client.create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName="paused", Enabled=False
    )
    aws.client("sqs").send_message(QueueUrl=url, MessageBody="wait")
    time.sleep(3 * SCAN_INTERVAL_S)
    assert not aws.client("s3").list_objects_v2(Bucket=bucket, Prefix="events/").get("Contents")
    lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    (event,) = _recorded_events(aws, bucket, 1)
    assert event["Records"][0]["body"] == "wait"
