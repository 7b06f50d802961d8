"""Once-only side effects across task retries and overlapping runs, recorded in DynamoDB.

A record per key (e.g. ``notification#<dag>#<run>#summary`` or ``upload#<bucket>/<key>#<etag>``)
is created with a conditional write, so exactly one writer wins it; its owner (the run) may take it
again, so a retried task resumes instead of being locked out.

A claim goes ``claimed`` -> ``sealed`` -> ``done``, or back to ``released`` (any owner may take it
at once) when its side effect failed; ``failed_runs`` counts the owners it failed for. A ``claimed`` record left longer than
``stale_after_s`` (a crashed or stuck run) may be taken over by another owner. Sealing is the fence:
right before its side effect commits, the owner seals the claim, which fails if the claim was taken
over meanwhile (the run must then drop that side effect), and a sealed claim is not stale any more
(only after ``sealed_stale_after_s``, for a run that died between sealing and committing).
"""

from __future__ import annotations

import contextlib
import itertools
import random
import time
from dataclasses import dataclass
from typing import Any

KEY_ATTRIBUTE = "pk"
BATCH_GET_LIMIT = 100  # keys per BatchGetItem call
UNPROCESSED_MAX_BACKOFF_S = 2.0


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: ``won`` when this owner holds it, and what the record says."""

    key: str
    won: bool
    owner: str
    status: str
    # On a won claim: the last owner that sealed the record, when that was another owner. It may
    # have committed its side effect before it died (sealing comes just before committing), so the
    # winner checks before doing it again. Kept on the record through later claims and retries.
    sealed_by_other: str | None = None


class IdempotencyStore:
    """Conditional writes on one DynamoDB table (partition key ``pk``, a string)."""

    def __init__(self, dynamodb_client: Any, table_name: str) -> None:
        self.client = dynamodb_client
        self.table_name = table_name

    def ensure_table(self) -> None:
        """Create the table if missing (on-demand billing); for demos and tests."""
        try:
            self.client.describe_table(TableName=self.table_name)
        except self.client.exceptions.ResourceNotFoundException:
            self.client.create_table(
                TableName=self.table_name,
                KeySchema=[{"AttributeName": KEY_ATTRIBUTE, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": KEY_ATTRIBUTE, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            self.client.get_waiter("table_exists").wait(TableName=self.table_name)

    def claim(
        self,
        key: str,
        owner: str,
        stale_after_s: float | None = None,
        sealed_stale_after_s: float | None = None,
    ) -> Claim:
        """Take ``key`` for ``owner`` unless another owner holds it.

        Another owner's claim is taken over when it was released, stayed ``claimed`` longer than
        ``stale_after_s``, or ``sealed`` longer than ``sealed_stale_after_s`` (None: never). An update,
        not a put: the record keeps its ``failed_runs``.
        """
        now = time.time()
        condition = (
            f"attribute_not_exists({KEY_ATTRIBUTE}) OR (#owner = :owner AND #status <> :done)"
            " OR #status = :released"
        )
        values: dict[str, Any] = {
            ":owner": {"S": owner},
            ":done": {"S": "done"},
            ":released": {"S": "released"},
            ":claimed": {"S": "claimed"},
            ":now": {"N": str(now)},
        }
        names = {"#owner": "owner", "#status": "status", "#claimed_at": "claimed_at"}
        if stale_after_s is not None:
            condition += " OR (#status = :claimed AND #claimed_at < :stale)"
            values[":stale"] = {"N": str(now - stale_after_s)}
        if sealed_stale_after_s is not None:
            condition += " OR (#status = :sealed AND #sealed_at < :sealed_stale)"
            values |= {":sealed": {"S": "sealed"}, ":sealed_stale": {"N": str(now - sealed_stale_after_s)}}
            names["#sealed_at"] = "sealed_at"
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: {"S": key}},
                UpdateExpression="SET #owner = :owner, #status = :claimed, #claimed_at = :now",
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException as error:
            # The record that refused us comes with the error: no second read.
            record = _plain(error.response.get("Item") or {}) or self.get(key) or {}
            return Claim(key, False, record.get("owner", ""), record.get("status", ""))
        sealed_by = _plain(response.get("Attributes", {})).get("sealed_by")
        return Claim(key, True, owner, "claimed", sealed_by_other=sealed_by if sealed_by != owner else None)

    def seal(self, key: str, owner: str) -> bool:
        """Fence ``key`` for ``owner`` before its side effect commits; False if another owner took it over."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: {"S": key}},
                UpdateExpression="SET #status = :sealed, #sealed_at = :now, #sealed_by = :owner",
                ConditionExpression="#owner = :owner AND #status IN (:claimed, :sealed)",
                ExpressionAttributeNames={
                    "#owner": "owner",
                    "#status": "status",
                    "#sealed_at": "sealed_at",
                    "#sealed_by": "sealed_by",
                },
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":claimed": {"S": "claimed"},
                    ":sealed": {"S": "sealed"},
                    ":now": {"N": str(time.time())},
                },
            )
            return True
        except self.client.exceptions.ConditionalCheckFailedException:
            return False

    def record_failure(self, key: str, owner: str, reason: str) -> int | None:
        """Note that ``owner``'s side effect for ``key`` failed; the number of distinct owners it failed for.

        Idempotent per owner (a string set), so a retried task of one run counts once. None when
        ``owner`` no longer holds the claim (another owner took it over and decides).
        """
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: {"S": key}},
                UpdateExpression="ADD failed_runs :runs SET last_error = :reason",
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={
                    ":runs": {"SS": [owner]},
                    ":reason": {"S": reason},
                    ":owner": {"S": owner},
                },
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return len(response["Attributes"]["failed_runs"]["SS"])

    def release(self, key: str, owner: str) -> None:
        """Give ``key`` up so that any owner may claim it at once (its side effect failed; try again)."""
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            # Not ours any more (taken over, or finished): nothing to release.
            self.client.update_item(
                TableName=self.table_name,
                Key={KEY_ATTRIBUTE: {"S": key}},
                UpdateExpression="SET #status = :released",
                ConditionExpression="#owner = :owner AND #status IN (:claimed, :sealed)",
                ExpressionAttributeNames={"#owner": "owner", "#status": "status"},
                ExpressionAttributeValues={
                    ":owner": {"S": owner},
                    ":released": {"S": "released"},
                    ":claimed": {"S": "claimed"},
                    ":sealed": {"S": "sealed"},
                },
            )

    def finish(self, key: str, owner: str, **attributes: str) -> None:
        """Mark the owner's record done; later claims of the key, by anyone, are refused."""
        names = {"#status": "status", "#owner": "owner"}
        values = {":done": {"S": "done"}, ":owner": {"S": owner}}
        sets = ["#status = :done"]
        for index, (name, value) in enumerate(sorted(attributes.items())):
            names[f"#a{index}"] = name
            values[f":a{index}"] = {"S": str(value)}
            sets.append(f"#a{index} = :a{index}")
        self.client.update_item(
            TableName=self.table_name,
            Key={KEY_ATTRIBUTE: {"S": key}},
            UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="#owner = :owner",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def get(self, key: str) -> dict[str, str] | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={KEY_ATTRIBUTE: {"S": key}}, ConsistentRead=True
        )
        if "Item" not in item:
            return None
        return _plain(item["Item"])

    def records(
        self, keys: list[str], attributes: tuple[str, ...] = ("status",)
    ) -> dict[str, dict[str, Any]]:
        """``attributes`` of every key that has a record, in batches of 100 (a call per batch, not per
        key); keys DynamoDB leaves unprocessed (throttling) are asked again after a backoff."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(keys))
        names = {f"#a{index}": name for index, name in enumerate(attributes)}
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [{KEY_ATTRIBUTE: {"S": key}} for key in unique[start : start + BATCH_GET_LIMIT]],
                    "ProjectionExpression": ", ".join([KEY_ATTRIBUTE, *names]),
                    "ExpressionAttributeNames": names,
                    "ConsistentRead": True,
                }
            }
            for attempt in itertools.count():
                response = self.client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.table_name, []):
                    record = _plain(item)
                    found[record.pop(KEY_ATTRIBUTE)] = record
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(UNPROCESSED_MAX_BACKOFF_S, 0.05 * 2**attempt) * random.uniform(0.5, 1.5))
        return found


def _plain(item: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A low-level DynamoDB item as {name: value}."""
    return {name: next(iter(value.values())) for name, value in item.items()}
