"""Handlers the invocation tests deploy; one zip, many Handler names.

``EXECUTIONS_BUCKET`` (an environment variable) makes each execution leave one S3 object, so a
test can count how often the code really ran, independently of how often it was invoked.
"""

import json
import os
import time

_S3 = None


def _s3():
    global _S3
    if _S3 is None:
        import boto3

        _S3 = boto3.client("s3")
    return _S3


def _mark_execution(context):
    bucket = os.environ.get("EXECUTIONS_BUCKET")
    if bucket:
        key = f"{context.function_name}/{context.aws_request_id}"
        _s3().put_object(Bucket=bucket, Key=key, Body=b"ran")


def echo(event, context):
    _mark_execution(context)
    return {"received": event}


def handled_error(event, context):
    return {"errorType": "OrderRejected", "errorMessage": f"order {event['order_id']} rejected"}


def unhandled(event, context):
    raise ValueError(f"bad order {event['order_id']}")


def sleep(event, context):
    _mark_execution(context)
    time.sleep(event["seconds"])
    return {"slept": event["seconds"]}


def read_claim(event, context):
    """Follow a claim check (lambdapipe's S3 offload) and describe the payload it points at."""
    claim = event["lambdapipe_claim_check"]
    body = _s3().get_object(Bucket=claim["bucket"], Key=claim["key"])["Body"].read()
    data = json.loads(body)
    return {"size": len(body), "pad_length": len(data["pad"]), "id": data["id"]}


def double(event, context):
    return {"double": event["n"] * 2}


def double_batch(event, context):
    """A batching function: one result per item, each telling how big its batch was."""
    items = event["items"]
    batch_bytes = len(json.dumps(event, separators=(",", ":")))
    return {
        "results": [
            {"double": item["n"] * 2, "batch_size": len(items), "batch_bytes": batch_bytes} for item in items
        ]
    }
