"""Publishing an SNS message once per key, whatever retries, clears or reruns do to the task.

The protocol: claim the key in the idempotency table with a conditional write, publish, then mark the
key done with the message id. A second attempt finds the claim done (or held by the same owner and
done meanwhile) and publishes nothing. Only a crash between the publish and the mark can send twice:
the window is one API call.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from lambdapipe.idempotency import IdempotencyStore


@dataclass(frozen=True)
class Notification:
    """What became of one message: sent now, or already sent (``sent`` False) under ``key``."""

    sent: bool
    message_id: str | None
    key: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def publish_once(
    store: IdempotencyStore,
    sns_hook: Any,
    *,
    key: str,
    owner: str,
    topic_arn: str,
    body: str,
    subject: str | None,
    attributes: Mapping[str, Any],
    log: logging.Logger,
) -> Notification:
    """Publish ``body`` to ``topic_arn`` unless ``key`` was published before (see the module docstring)."""
    claim = store.claim(key, owner=owner)
    if not claim.won or claim.status == "done":
        log.info("The notification %s was already sent: not sending again", key)
        return Notification(False, None, key)
    existing = store.get(key) or {}
    if existing.get("status") == "done":
        return Notification(False, existing.get("message_id"), key)
    response = sns_hook.publish_to_target(
        target_arn=topic_arn,
        message=body,
        subject=subject,
        message_attributes={name: value for name, value in attributes.items() if value is not None},
    )
    message_id = response["MessageId"]  # the hook returns the whole Publish response
    store.finish(key, owner=owner, message_id=message_id)
    log.info("Sent %s to %s (message %s)", key, topic_arn, message_id)
    return Notification(True, message_id, key)
