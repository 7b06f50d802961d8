"""Handlers that exercise the Lambda contract on the local runtime; one zip, many Handler names."""

import json
import os
import sys
import time

INVOCATIONS = 0


def echo(event, context):
    return event


def counter(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    print(f"invocation {INVOCATIONS}")
    return {"invocations": INVOCATIONS, "request_id": context.aws_request_id}


def context_view(event, context):
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "log_group_name": context.log_group_name,
        "client_context": getattr(context.client_context, "custom", None),
    }


def environment(event, context):
    return {key: os.environ.get(key) for key in event["keys"]}


def sys_path(event, context):
    return sys.path


def fail(event, context):
    raise ValueError(f"bad order {event.get('order_id')}")


def handled_error(event, context):
    return {"statusCode": 500, "body": "the function handled this error itself"}


def sleep(event, context):
    print("sleeping", event["seconds"])
    time.sleep(event["seconds"])
    return {"slept": event["seconds"]}


def allocate(event, context):
    hog = bytearray(event["megabytes"] * 1024 * 1024)
    for index in range(0, len(hog), 4096):
        hog[index] = 1
    return {"allocated": len(hog)}


def crash(event, context):
    print("about to exit")
    sys.stdout.flush()
    os._exit(3)


def chatty(event, context):
    for line in range(event["lines"]):
        print(f"line {line:05d} " + "x" * 60)
    return {"lines": event["lines"]}


def flaky(event, context):
    """Fails until the marker object says enough attempts happened; proves async retries re-run the code."""
    import boto3

    s3 = boto3.client("s3")
    key = f"attempts/{event['id']}"
    try:
        attempts = int(s3.get_object(Bucket=event["bucket"], Key=key)["Body"].read()) + 1
    except s3.exceptions.NoSuchKey:
        attempts = 1
    s3.put_object(Bucket=event["bucket"], Key=key, Body=str(attempts).encode())
    if attempts <= event["fail_times"]:
        raise RuntimeError(f"attempt {attempts} fails")
    return {"attempts": attempts}


def record(event, context):
    """Store the event it received in S3 so a test can see what a trigger delivered."""
    import boto3

    time.sleep(float(os.environ.get("RECORD_DELAY_S", "0")))
    boto3.client("s3").put_object(
        Bucket=os.environ["RECORD_BUCKET"],
        Key=f"events/{context.aws_request_id}.json",
        Body=json.dumps(event).encode(),
    )
    return {"recorded": context.aws_request_id}


def partial_batch(event, context):
    """SQS partial batch response: report every message whose body says "fail"."""
    return {
        "batchItemFailures": [
            {"itemIdentifier": record["messageId"]} for record in event["Records"] if record["body"] == "fail"
        ]
    }


def s3_and_dynamodb(event, context):
    import boto3

    s3 = boto3.client("s3")
    s3.put_object(Bucket=event["bucket"], Key="from-lambda.txt", Body=b"written by the handler")
    table = boto3.resource("dynamodb").Table(event["table"])
    table.put_item(Item={"pk": "from-lambda", "source": context.function_name})
    body = s3.get_object(Bucket=event["bucket"], Key="from-lambda.txt")["Body"].read().decode()
    item = table.get_item(Key={"pk": "from-lambda"})["Item"]
    return {"s3_body": body, "dynamodb_item": item}
