"""Create the demo's AWS resources idempotently: `make run`, the tests and the compose stack call this.

Buckets (uploads, pipeline results, tables), S3 notifications for ``incoming/`` to the SQS queue
``upload-events``, SNS topics ``pipeline-notifications`` and ``pipeline-alerts`` each with an SQS
"inbox" subscription (so tests and the demo can read what was sent), the DynamoDB table for
once-only records, the DynamoDB ``orders`` table (GSI by order hour, a stream of new images), and
every function in ``lambda_functions/`` deployed through the deploy path. Running it again changes
nothing.

Usage: .venv/bin/python include/demo_infrastructure.py [--no-deploy]   (AWS_ENDPOINT_URL etc. set)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS_DIR = REPO / "lambda_functions"

log = logging.getLogger("demo_infrastructure")


def _client(service: str, aws_conn_id: str | None) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(client_type=service, aws_conn_id=aws_conn_id).conn


def ensure_bucket(s3: Any, bucket: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        region = s3.meta.region_name
        location = (
            {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=bucket, **location)


def ensure_queue(sqs: Any, name: str, policy: dict[str, Any] | None = None) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]  # returns the existing queue when attributes match
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    if policy is not None:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def _allow(service: str, queue_arn: str, source_arn: str) -> dict[str, Any]:
    """A queue policy letting one S3 bucket or SNS topic send to the queue."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": f"{service}.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
            }
        ],
    }


def ensure_upload_notifications(s3: Any, sqs: Any, bucket: str, queue_name: str) -> str:
    """``incoming/`` object creations in ``bucket`` go to ``queue_name``; returns the queue URL."""
    queue_url, queue_arn = ensure_queue(sqs, queue_name)
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={"Policy": json.dumps(_allow("s3", queue_arn, f"arn:aws:s3:::{bucket}"))},
    )
    wanted = {
        "Id": "incoming-to-sqs",
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "incoming/"}]}},
    }
    current = s3.get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations", [])
    if not any(config.get("QueueArn") == queue_arn for config in current):
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [*current, wanted]}
        )
    return queue_url


def ensure_topic_with_inbox(sns: Any, sqs: Any, topic_name: str) -> tuple[str, str]:
    """The topic and an SQS queue ``<topic>-inbox`` subscribed to it; returns (topic ARN, inbox URL)."""
    topic_arn = sns.create_topic(Name=topic_name)["TopicArn"]
    inbox_url, inbox_arn = ensure_queue(sqs, f"{topic_name}-inbox")
    sqs.set_queue_attributes(
        QueueUrl=inbox_url, Attributes={"Policy": json.dumps(_allow("sns", inbox_arn, topic_arn))}
    )
    subscribed = {
        sub["Endpoint"] for sub in sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    }
    if inbox_arn not in subscribed:
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbox_arn)
    return topic_arn, inbox_url


def ensure_orders_table(dynamodb: Any, table_name: str) -> str:
    """The DynamoDB orders table (GSI by order hour, stream with new images); returns the stream ARN."""
    from lambdapipe_demo.orders import orders_table_definition

    try:
        table = dynamodb.describe_table(TableName=table_name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        table = dynamodb.create_table(**orders_table_definition(table_name))["TableDescription"]
        dynamodb.get_waiter("table_exists").wait(TableName=table_name)
    return table["LatestStreamArn"]


def deploy_functions(aws_conn_id: str | None, functions_dir: Path = FUNCTIONS_DIR) -> dict[str, str]:
    """Deploy every function folder (no-op when unchanged); returns name -> deployed version."""
    from lambdapipe.deploy.deployer import FunctionDeployer
    from lambdapipe.hooks.iam import IamHook
    from lambdapipe.hooks.lambda_function import LambdaHook

    versions = {}
    for manifest in sorted(functions_dir.glob("*/function.toml")):
        result = FunctionDeployer(
            function_dir=manifest.parent,
            lambda_hook=LambdaHook(aws_conn_id=aws_conn_id),
            iam_hook=IamHook(aws_conn_id=aws_conn_id),
            waiter_delay=1,
        ).run()
        versions[result.function_name] = result.version
    return versions


def ensure_infrastructure(aws_conn_id: str | None = None, deploy: bool = True) -> dict[str, Any]:
    """Create or confirm every demo resource; returns their names, URLs and ARNs."""
    from lambdapipe.idempotency import IdempotencyStore
    from lambdapipe.lifecycle import WRITTEN_PREFIXES, ensure_expiry
    from lambdapipe_demo import settings

    s3, sqs, sns = (_client(service, aws_conn_id) for service in ("s3", "sqs", "sns"))
    for bucket in (settings.UPLOADS_BUCKET, settings.PIPELINE_BUCKET, settings.TABLES_BUCKET):
        ensure_bucket(s3, bucket)
    # The per-run objects the pipelines write (fan-outs, offloaded payloads, order extracts) expire.
    ensure_expiry(s3, settings.PIPELINE_BUCKET, (*WRITTEN_PREFIXES, settings.EXTRACT_PREFIX))
    upload_queue = ensure_upload_notifications(s3, sqs, settings.UPLOADS_BUCKET, settings.UPLOAD_EVENTS_QUEUE)
    notifications, notifications_inbox = ensure_topic_with_inbox(sns, sqs, settings.NOTIFICATIONS_TOPIC)
    alerts, alerts_inbox = ensure_topic_with_inbox(sns, sqs, settings.ALERTS_TOPIC)
    IdempotencyStore(_client("dynamodb", aws_conn_id), settings.IDEMPOTENCY_TABLE).ensure_table()
    orders_stream = ensure_orders_table(_client("dynamodb", aws_conn_id), settings.ORDERS_TABLE)
    resources = {
        "uploads_bucket": settings.UPLOADS_BUCKET,
        "pipeline_bucket": settings.PIPELINE_BUCKET,
        "tables_bucket": settings.TABLES_BUCKET,
        "upload_events_queue_url": upload_queue,
        "notifications_topic_arn": notifications,
        "notifications_inbox_url": notifications_inbox,
        "alerts_topic_arn": alerts,
        "alerts_inbox_url": alerts_inbox,
        "idempotency_table": settings.IDEMPOTENCY_TABLE,
        "orders_table": settings.ORDERS_TABLE,
        "orders_stream_arn": orders_stream,
    }
    if deploy:
        resources["functions"] = deploy_functions(aws_conn_id)
    return resources


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-deploy", action="store_true", help="skip deploying lambda_functions/")
    parser.add_argument("--aws-conn-id", default=None, help="Airflow connection (default: AWS environment)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    with contextlib.redirect_stdout(sys.stderr):  # Airflow logs to stdout: keep it for the JSON
        resources = ensure_infrastructure(args.aws_conn_id, deploy=not args.no_deploy)
    print(json.dumps(resources, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
