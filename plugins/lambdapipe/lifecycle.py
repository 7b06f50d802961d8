"""Expiry of what lambdapipe writes to S3 per run, as S3 lifecycle rules on the bucket.

``LambdaMapOperator`` writes each run's inputs, results, metrics and summary under its
``results_prefix`` (default ``lambdapipe/map/``) and ``LambdaInvokeOperator`` offloads large
payloads under ``offload_prefix`` (``lambdapipe/claims/``). Only the run and its retries read them,
so they would pile up for ever: ``ensure_expiry`` has S3 delete them ``days`` after they were
written, and abort multipart uploads left incomplete. Its rules are named ``lambdapipe-expire-...``
and merged into the bucket's configuration: other rules stay, and a rerun changes nothing.

After the expiry a run's fan-out is gone: a task cleared or retried later starts its fan-out over
(invoking every item again) instead of resuming, and its ``lambda_invocations`` rows are rebuilt from
the new try's metrics alone. Choose ``days`` longer than you would ever clear a task.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DEFAULT_EXPIRY_DAYS = 14
WRITTEN_PREFIXES = ("lambdapipe/map/", "lambdapipe/claims/")
RULE_ID_PREFIX = "lambdapipe-expire-"


def expiry_rules(prefixes: Sequence[str], days: int) -> list[dict[str, Any]]:
    """One rule per prefix: delete objects ``days`` after creation, abort stale multipart uploads."""
    if days < 1:
        raise ValueError(f"days must be at least 1 (got {days})")
    return [
        {
            "ID": f"{RULE_ID_PREFIX}{prefix.strip('/').replace('/', '-')}",
            "Filter": {"Prefix": prefix},
            "Status": "Enabled",
            "Expiration": {"Days": days},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
        for prefix in prefixes
    ]


def ensure_expiry(
    s3: Any, bucket: str, prefixes: Sequence[str] = WRITTEN_PREFIXES, days: int = DEFAULT_EXPIRY_DAYS
) -> bool:
    """Put lambdapipe's expiry rules on ``bucket`` beside its other rules; True when that changed them."""
    try:
        current = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except s3.exceptions.ClientError as error:
        if error.response["Error"]["Code"] != "NoSuchLifecycleConfiguration":
            raise
        current = []
    wanted = expiry_rules(prefixes, days)
    wanted_ids = {rule["ID"] for rule in wanted}
    others = [rule for rule in current if rule.get("ID") not in wanted_ids]
    ours = [rule for rule in current if rule.get("ID") in wanted_ids]
    if sorted(ours, key=lambda rule: rule["ID"]) == sorted(wanted, key=lambda rule: rule["ID"]):
        return False
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": others + wanted})
    return True
