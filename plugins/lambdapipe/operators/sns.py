"""SNS notifications from pipelines, sent exactly once per DAG run and kind, even when a task retries."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.sns import SnsHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from lambdapipe.idempotency import IdempotencyStore
from lambdapipe.notifications import Notification, publish_once

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFAULT_IDEMPOTENCY_TABLE = "lambdapipe-idempotency"


class SnsNotifyOperator(AwsBaseOperator[SnsHook]):
    """Publish one message to an SNS topic once per (DAG run, ``kind``).

    The once-only key is ``notification#<dag_id>#<run_id>#<kind>`` in a DynamoDB table (see
    ``lambdapipe.notifications``): a retried task, a cleared task or a rerun of the same DAG run
    finds it done and sends nothing.

    :param topic_arn: Target topic. Templated.
    :param message: The message: a str, or a dict/list sent as JSON. ``None`` or an empty str, dict
        or list (e.g. an upstream task decided there is nothing to alert about) sends nothing; return
        ``{}`` rather than ``None`` from such a task, which Airflow stores no XCom for and then logs an
        error resolving. Templated.
    :param subject: Email-style subject. Templated.
    :param kind: What this message is (``summary``, ``alert``...), part of the once-only key.
    :param message_attributes: SNS message attributes for subscription filter policies; ``kind``,
        ``dag_id`` and ``run_id`` are always added (a subscriber can tell runs apart). Templated.
    :param idempotency_table: DynamoDB table (partition key ``pk``) holding the once-only records.
    :return: ``{"sent": bool, "message_id": ..., "key": ...}``.
    """

    aws_hook_class = SnsHook
    template_fields: Sequence[str] = aws_template_fields(
        "topic_arn", "message", "subject", "message_attributes"
    )
    template_fields_renderers = {"message": "json", "message_attributes": "json"}
    ui_color = "#ff9900"

    def __init__(
        self,
        *,
        topic_arn: str,
        message: Any,
        kind: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        idempotency_table: str = DEFAULT_IDEMPOTENCY_TABLE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.topic_arn = topic_arn
        self.message = message
        self.kind = kind
        self.subject = subject
        self.message_attributes = message_attributes or {}
        self.idempotency_table = idempotency_table

    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        key = f"notification#{ti.dag_id}#{ti.run_id}#{self.kind}"
        if _nothing_to_send(self.message):
            self.log.info("No %s message for this run: nothing to send", self.kind)
            return Notification(False, None, key).to_dict()
        store = IdempotencyStore(
            AwsBaseHook(client_type="dynamodb", **self._hook_parameters).conn, self.idempotency_table
        )
        notification = publish_once(
            store,
            self.hook,
            key=key,
            owner=ti.run_id,
            topic_arn=self.topic_arn,
            body=self.message if isinstance(self.message, str) else json.dumps(self.message, default=str),
            subject=self.subject,
            attributes={
                "kind": self.kind,
                "dag_id": ti.dag_id,
                "run_id": ti.run_id,
                **self.message_attributes,
            },
            log=self.log,
        )
        return notification.to_dict()


def _nothing_to_send(message: Any) -> bool:
    """An upstream's "no message": None, an empty str, dict or list, or one rendered as text."""
    if isinstance(message, str):
        return message.strip() in ("", "None", "{}", "[]")
    return message is None or (isinstance(message, (dict, list)) and not message)
