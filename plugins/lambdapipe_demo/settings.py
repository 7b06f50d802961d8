"""Names the shipped pipelines and the demo infrastructure share (one place, so both sides agree).

Each can be overridden with an environment variable of the same name, e.g. for a real AWS account.
"""

from __future__ import annotations

import os

ACCOUNT_ID_FOR_LOCAL = "123456789012"  # the local stack's (moto's) default account


def setting(name: str, default: str) -> str:
    return os.environ.get(name, default)


REGION = setting("LAMBDAPIPE_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
UPLOADS_BUCKET = setting("LAMBDAPIPE_UPLOADS_BUCKET", "uploads")
PIPELINE_BUCKET = setting("LAMBDAPIPE_PIPELINE_BUCKET", "lambdapipe-pipeline")
TABLES_BUCKET = setting("LAMBDAPIPE_TABLES_BUCKET", "lambdapipe-tables")
UPLOAD_EVENTS_QUEUE = setting("LAMBDAPIPE_UPLOAD_EVENTS_QUEUE", "upload-events")
NOTIFICATIONS_TOPIC = setting("LAMBDAPIPE_NOTIFICATIONS_TOPIC", "pipeline-notifications")
ALERTS_TOPIC = setting("LAMBDAPIPE_ALERTS_TOPIC", "pipeline-alerts")
IDEMPOTENCY_TABLE = setting("LAMBDAPIPE_IDEMPOTENCY_TABLE", "lambdapipe-idempotency")
ORDERS_TABLE = setting("LAMBDAPIPE_ORDERS_TABLE", "orders")
EXTRACT_PREFIX = "lambdapipe/extract/"  # order_analytics' staged extracts, in PIPELINE_BUCKET


def queue_url(queue_name: str) -> str:
    """The queue's URL without an API call (DAG files must not call AWS while parsed).

    ``LAMBDAPIPE_<NAME>_QUEUE_URL`` wins; else the local stack's URL under ``AWS_ENDPOINT_URL``; else
    the regional AWS URL for ``LAMBDAPIPE_ACCOUNT_ID``.
    """
    override = os.environ.get(f"LAMBDAPIPE_{queue_name.upper().replace('-', '_')}_QUEUE_URL")
    if override:
        return override
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    account = os.environ.get("LAMBDAPIPE_ACCOUNT_ID", ACCOUNT_ID_FOR_LOCAL)
    if endpoint:
        return f"{endpoint.rstrip('/')}/{account}/{queue_name}"
    return f"https://sqs.{REGION}.amazonaws.com/{account}/{queue_name}"


def topic_arn(topic_name: str) -> str:
    account = os.environ.get("LAMBDAPIPE_ACCOUNT_ID", ACCOUNT_ID_FOR_LOCAL)
    return f"arn:aws:sns:{REGION}:{account}:{topic_name}"
