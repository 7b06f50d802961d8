"""SQS and DynamoDB Streams event source mappings, polled in the background as Lambda does.

moto delivers one SQS message per invoke inside SendMessage and clears a DynamoDB stream after each
invoke. Lambda instead polls: SQS in batches of up to ``BatchSize`` within
``MaximumBatchingWindowInSeconds``, deleting a batch only when the function succeeds (or all but the
reported ``batchItemFailures``); DynamoDB Streams per shard in order, retrying a failed batch before
moving on. Each enabled mapping gets one poller thread.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from typing import Any

from lambdapipe_local.lambda_runtime.lambda_service import LocalLambdaService
from lambdapipe_local.lambda_runtime.pool import ConcurrencyLimitExceeded
from lambdapipe_local.moto_backend.internal_clients import InternalClients

log = logging.getLogger(__name__)

SCAN_INTERVAL_S = 0.5
IDLE_POLL_S = 0.2
RETRY_BACKOFF_S = (0.5, 1.0, 2.0, 4.0)
SOURCE_GONE_RECHECK_S = 5.0
# What SQS and DynamoDB Streams answer for a queue or stream that does not exist (any more).
SOURCE_GONE_CODES = frozenset(
    {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", "ResourceNotFoundException"}
)


class EventSourcePollers:
    """Starts a poller for every SQS / DynamoDB Streams mapping in moto, stops it when the mapping goes."""

    def __init__(self, service: LocalLambdaService, clients: InternalClients) -> None:
        self.service = service
        self.clients = clients
        self._pollers: dict[str, _Poller] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._scan_forever, daemon=True, name="esm-scanner")
        self._thread.start()

    def close(self, timeout_s: float = 0.0) -> None:
        """Stop every poller; wait up to ``timeout_s`` for those mid-batch to deliver and checkpoint it."""
        self._stop.set()
        pollers = list(self._pollers.values())
        for poller in pollers:
            poller.stop.set()
        deadline = time.monotonic() + timeout_s
        for poller in pollers:
            poller.thread.join(max(0.0, deadline - time.monotonic()))

    def _scan_forever(self) -> None:
        while not self._stop.wait(SCAN_INTERVAL_S):
            try:
                self._scan()
            except Exception:
                log.exception("event source mapping scan failed")

    def _scan(self) -> None:
        from lambdapipe_local.moto_backend import moto_integration

        if not moto_integration.is_current(self.service):
            # moto's state is process-wide: only the LocalAws installed last may deliver events,
            # or two servers in one process (e.g. test sessions) would each deliver every record.
            current: dict[str, Any] = {}
        else:
            current = {esm.uuid: esm for esm in _all_mappings()}
        for uuid, poller in list(self._pollers.items()):
            if uuid not in current:
                poller.stop.set()
                del self._pollers[uuid]
        for uuid, esm in current.items():
            if uuid in self._pollers:
                continue
            service = esm.event_source_arn.split(":")[2]
            poller_class = {"sqs": _SqsPoller, "dynamodb": _DynamoDbStreamPoller}.get(service)
            if poller_class is not None:
                self._pollers[uuid] = poller_class(esm, self.service, self.clients)


def _all_mappings() -> list[Any]:
    from moto.awslambda.models import lambda_backends

    mappings = []
    for regions in list(lambda_backends.values()):
        for backend in list(regions.values()):
            mappings.extend(list(backend._event_source_mappings.values()))
    return mappings


class _Poller:
    """Base: a daemon thread that polls while the mapping is enabled."""

    def __init__(self, esm: Any, service: LocalLambdaService, clients: InternalClients) -> None:
        self.esm = esm
        self.service = service
        self.region = esm.event_source_arn.split(":")[3]
        self.clients = clients
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"esm-{esm.uuid[:8]}")
        self.thread.start()

    def _run(self) -> None:
        source_gone = False
        while not self.stop.is_set():
            if not self.esm.enabled:
                self.stop.wait(SCAN_INTERVAL_S)
                continue
            try:
                polled = self.poll_once()
            except Exception as error:
                if _source_gone(error):  # deleted, or a reset: one line, then quiet re-checks
                    if not source_gone:
                        log.warning(
                            "event source %s does not exist: mapping %s polls again when it does",
                            self.esm.event_source_arn,
                            self.esm.uuid,
                        )
                    source_gone = True
                    self.stop.wait(SOURCE_GONE_RECHECK_S)
                    continue
                log.exception("poller for %s failed; retrying", self.esm.event_source_arn)
                self.stop.wait(1.0)
                continue
            if source_gone:
                log.info(
                    "event source %s exists again: mapping %s polls it",
                    self.esm.event_source_arn,
                    self.esm.uuid,
                )
                source_gone = False
            if not polled:
                self.stop.wait(IDLE_POLL_S)

    def poll_once(self) -> bool:
        """Deliver at most one batch; False when there was nothing to deliver."""
        raise NotImplementedError

    def _invoke(self, event: dict) -> Any:
        spec, invoked_arn = self.service.resolve(
            self.esm.account_id, self.esm.region, self.esm.function_arn, route=True
        )
        return self.service.invoke(spec, json.dumps(event, default=str).encode("utf-8"), invoked_arn)


def _source_gone(error: Exception) -> bool:
    """An AWS answer that the queue or stream does not exist; moto's own errors (a function that is
    gone at delivery) are other failures, retried with a traceback."""
    from botocore.exceptions import ClientError

    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") in SOURCE_GONE_CODES


class _SqsPoller(_Poller):
    def poll_once(self) -> bool:
        sqs = self.clients.get("sqs", self.region)
        queue_url = sqs.get_queue_url(
            QueueName=self.esm.event_source_arn.split(":")[5],
            QueueOwnerAWSAccountId=self.esm.event_source_arn.split(":")[4],
        )["QueueUrl"]
        messages = self._receive_batch(sqs, queue_url)
        if not messages:
            return False
        try:
            result = self._invoke({"Records": [self._record(m) for m in messages]})
        except ConcurrencyLimitExceeded:
            self._release(sqs, queue_url, messages)
            self.stop.wait(RETRY_BACKOFF_S[0])
            return True
        if result.function_error:
            return True  # messages reappear after the visibility timeout, as on AWS
        failed = self._reported_failures(result.payload)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        return True

    def _receive_batch(self, sqs: Any, queue_url: str) -> list[dict]:
        batch_size = int(self.esm.batch_size or 10)
        window = float(self.esm.max_batch_window or 0)
        deadline = time.monotonic() + window
        messages: list[dict] = []
        while len(messages) < batch_size and not self.stop.is_set():
            response = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=min(10, batch_size - len(messages)),
                WaitTimeSeconds=0 if messages else 1,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            messages.extend(received)
            if not received or time.monotonic() >= deadline:
                break
        return messages

    def _release(self, sqs: Any, queue_url: str, messages: list[dict]) -> None:
        for message in messages:
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )

    def _reported_failures(self, payload: bytes) -> set[str]:
        if "ReportBatchItemFailures" not in (self.esm.function_response_types or []):
            return set()
        try:
            failures = json.loads(payload or b"null") or {}
            return {item["itemIdentifier"] for item in failures.get("batchItemFailures", [])}
        except (ValueError, TypeError, KeyError, AttributeError):
            return set()

    def _record(self, message: dict) -> dict:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {
                name: {
                    "stringValue": value.get("StringValue"),
                    "binaryValue": value.get("BinaryValue"),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": value["DataType"],
                }
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.esm.event_source_arn,
            "awsRegion": self.region,
        }


class _DynamoDbStreamPoller(_Poller):
    def __init__(self, esm: Any, service: LocalLambdaService, clients: InternalClients) -> None:
        self._iterators: dict[str, str | None] = {}
        self._failures: dict[str, int] = {}
        super().__init__(esm, service, clients)

    def poll_once(self) -> bool:
        streams = self.clients.get("dynamodbstreams", self.region)
        self._discover_shards(streams)
        delivered = False
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            response = streams.get_records(ShardIterator=iterator, Limit=int(self.esm.batch_size or 100))
            records = response.get("Records", [])
            if not records:
                self._iterators[shard_id] = response.get("NextShardIterator")
                continue
            delivered = True
            if self._deliver(records):
                self._advance(shard_id, records, response.get("NextShardIterator"))
                self._failures.pop(shard_id, None)
            else:
                self._retry_or_skip(shard_id, records, response.get("NextShardIterator"))
        return delivered

    @property
    def _checkpoints(self) -> dict[str, str]:
        """Shard id -> the last sequence number handled. Kept on moto's mapping object, so it is saved
        with the stack's state and a restarted stack resumes after it instead of redelivering."""
        return self.esm.__dict__.setdefault("lambdapipe_shard_checkpoints", {})

    def _advance(self, shard_id: str, records: list[dict], next_iterator: str | None) -> None:
        self._iterators[shard_id] = next_iterator
        self._checkpoints[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]

    def _discover_shards(self, streams: Any) -> None:
        description = streams.describe_stream(StreamArn=self.esm.event_source_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id in self._iterators:
                continue
            position: dict[str, str] = {"ShardIteratorType": self.esm.starting_position or "TRIM_HORIZON"}
            if shard_id in self._checkpoints:
                position = {
                    "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
                    "SequenceNumber": self._checkpoints[shard_id],
                }
            self._iterators[shard_id] = streams.get_shard_iterator(
                StreamArn=self.esm.event_source_arn, ShardId=shard_id, **position
            )["ShardIterator"]

    def _deliver(self, records: list[dict]) -> bool:
        event = {"Records": [self._record(r) for r in records]}
        try:
            return not self._invoke(event).function_error
        except ConcurrencyLimitExceeded:
            return False

    def _retry_or_skip(self, shard_id: str, records: list[dict], next_iterator: str | None) -> None:
        """Keep the shard blocked on the failed batch, as Lambda does, until MaximumRetryAttempts."""
        failures = self._failures.get(shard_id, 0) + 1
        self._failures[shard_id] = failures
        limit = self.esm.max_retry_attempts
        if limit is not None and int(limit) >= 0 and failures > int(limit):
            log.warning("skipping a failed batch on %s after %d attempts", shard_id, failures)
            self._advance(shard_id, records, next_iterator)
            self._failures.pop(shard_id, None)
            return
        self.stop.wait(RETRY_BACKOFF_S[min(failures - 1, len(RETRY_BACKOFF_S) - 1)])

    def _record(self, record: dict) -> dict:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": record["eventID"],
            "eventName": record["eventName"],
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": self.region,
            "dynamodb": dynamodb,
            "eventSourceARN": self.esm.event_source_arn,
        }
