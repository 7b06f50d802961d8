"""Fan one Lambda function out over thousands of items inside a single task, like a Step Functions Map.

Dynamic task mapping makes one task instance per item: slow to schedule and heavy at thousands of
items. ``LambdaMapOperator`` keeps one task and runs the invocations itself, with bounded and
adaptive concurrency, item batching, per-batch retries, failure tolerance, results in S3, and resume
on retry (batches whose success is written are not invoked again; docs/operators.md, "Fan-out
guarantees", says which may run twice).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, conf

from lambdapipe.fanout import items as item_sources
from lambdapipe.fanout import run_store
from lambdapipe.fanout.batching import make_batches
from lambdapipe.fanout.engine import FanOutConfig, run_fan_out
from lambdapipe.fanout.gc_freeze import startup_objects_frozen
from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.invoking import ledger
from lambdapipe.invoking.metrics import TaskIdentity
from lambdapipe.links import LambdaFunctionLink, is_aws_endpoint
from lambdapipe.operators.rendered_payload import StoresRenderedPayloadSummary, check_policy, rendered_value
from lambdapipe.tables.config import DEFAULT_CONN_ID
from lambdapipe.triggers.lambda_map import LambdaMapTrigger
from lambdapipe.utils.s3_buckets import MissingBucketError, require_bucket

if TYPE_CHECKING:
    from airflow.sdk import Context

    from lambdapipe.fanout.engine import FanOutConfig


class LambdaMapOperator(StoresRenderedPayloadSummary, AwsBaseOperator[LambdaHook]):
    """Invoke ``function_name`` once per batch of items and return a summary (results stay in S3).

    Exactly one item source: ``items`` (a list, e.g. an upstream XCom), ``items_s3_uri`` (every object
    under an S3 prefix, or every line of the JSON-lines objects there), or ``items_dynamodb_query``
    (the parameters of a DynamoDB ``Query``, paginated).

    :param function_name: Function name or ARN. Templated.
    :param qualifier: Version or alias. Templated.
    :param items: The items (JSON values). Templated / XComArg.
    :param items_s3_uri: ``s3://bucket/prefix`` to list. Templated.
    :param items_s3_format: ``objects`` (one item per object: bucket, key, size, etag) or ``jsonl``.
    :param items_dynamodb_query: ``Query`` parameters incl. ``TableName``. Templated.
    :param results_bucket: Bucket for the run's input, results and metrics. Templated.
    :param results_prefix: Key prefix under which each task instance gets its own folder.
    :param max_concurrency: Invocations in flight at most (lowered automatically while throttled).
    :param max_items_per_batch: Items per invocation (1: each item is the event itself, unless
        ``batch_input_key`` is set; more: ``{batch_input_key: [items]}``).
    :param max_bytes_per_batch: Encoded bytes per invocation at most (and never above 6 MB).
    :param batch_input_key: The event key holding a batch's items (``items``); None sends single items.
    :param max_attempts: Attempts per batch on function errors, with exponential backoff.
    :param item_retry_delay: Seconds before a failed batch's first retry (doubled each time, with jitter).
    :param tolerated_failure_count: Failed items the task tolerates.
    :param tolerated_failure_percentage: Failed items the task tolerates, in percent of all items.
    :param progress_interval: Seconds between progress lines (done/total, failed, rate, ETA).
    :param deferrable: Run the fan-out in the triggerer (no worker slot held).
    :param store_rendered_payload: What Airflow stores of the rendered ``items`` for its "Rendered
        Template" tab: ``"auto"`` (in full up to 1 KB, else their size and sha256), ``"summary"`` or
        ``"full"``. See ``rendered_payload``.
    :param record_invocations: Record every invocation of the fan-out (all tries) in the
        ``lambda_invocations`` table when it ends, failed or not. None follows ``[lambdapipe]
        record_invocations`` (default true). See ``lambdapipe.invoking.ledger``.
    :param tables_conn_id: Connection holding the tables' catalog settings, for those records.
    :return: The summary: counts, invocations/s, cost, ``results_uri`` and ``metrics_uri``.
    """

    aws_hook_class = LambdaHook
    template_fields: Sequence[str] = aws_template_fields(
        "function_name", "qualifier", "items", "items_s3_uri", "items_dynamodb_query", "results_bucket"
    )
    template_fields_renderers = {"items": "json", "items_dynamodb_query": "json"}
    payload_fields = ("items",)
    operator_extra_links = (LambdaFunctionLink(),)
    ui_color = "#ff9900"

    def __init__(
        self,
        *,
        function_name: str,
        results_bucket: str,
        qualifier: str | None = None,
        items: Any = None,
        items_s3_uri: str | None = None,
        items_s3_format: str = "objects",
        items_dynamodb_query: dict[str, Any] | None = None,
        results_prefix: str = "lambdapipe/map",
        max_concurrency: int = 10,
        max_items_per_batch: int = 1,
        max_bytes_per_batch: int | None = None,
        batch_input_key: str | None = None,
        max_attempts: int = 3,
        item_retry_delay: float = 1.0,
        tolerated_failure_count: int | None = None,
        tolerated_failure_percentage: float | None = None,
        progress_interval: float = 10.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        store_rendered_payload: str = "auto",
        record_invocations: bool | None = None,
        tables_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        sources = [s for s in (items, items_s3_uri, items_dynamodb_query) if s is not None]
        if len(sources) != 1:
            raise ValueError("give exactly one of items, items_s3_uri or items_dynamodb_query")
        if max_items_per_batch > 1 and batch_input_key is None:
            batch_input_key = "items"
        if tolerated_failure_percentage is not None and not 0 <= tolerated_failure_percentage <= 100:
            raise ValueError(
                f"tolerated_failure_percentage must be 0-100 (got {tolerated_failure_percentage})"
            )
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1 (got {max_attempts})")
        self.function_name = function_name
        self.qualifier = qualifier
        self.items = items
        self.items_s3_uri = items_s3_uri
        self.items_s3_format = items_s3_format
        self.items_dynamodb_query = items_dynamodb_query
        self.results_bucket = results_bucket
        self.results_prefix = results_prefix
        self.max_concurrency = max_concurrency
        self.max_items_per_batch = max_items_per_batch
        self.max_bytes_per_batch = max_bytes_per_batch
        self.batch_input_key = batch_input_key
        self.max_attempts = max_attempts
        self.item_retry_delay = item_retry_delay
        self.tolerated_failure_count = tolerated_failure_count
        self.tolerated_failure_percentage = tolerated_failure_percentage
        self.progress_interval = progress_interval
        self.deferrable = deferrable
        self.store_rendered_payload = check_policy(store_rendered_payload)
        self.record_invocations = record_invocations
        self.tables_conn_id = tables_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        config = self._prepare(context)
        LambdaFunctionLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            function_name=self.function_name,
            local=not is_aws_endpoint(self.hook.endpoint_url),
        )
        if self.deferrable:
            self.defer(
                trigger=LambdaMapTrigger(
                    config=config.to_dict(),
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
                timeout=self.execution_timeout or timedelta(hours=24),
            )
        with startup_objects_frozen():
            summary = asyncio.run(run_fan_out(config, self._hook_parameters, self.log.info))
        return self._finish(context, summary)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        if not event or event.get("status") != "success":
            message = (event or {}).get("message", "no event")
            raise AirflowException(f"Fan-out of {self.function_name} failed in the triggerer: {message}")
        return self._finish(context, event["summary"])

    def _prepare(self, context: Context) -> FanOutConfig:
        """Resolve the items, batch them and store them as the run's input (reused on a retry)."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        function = self.hook.function_info(self.function_name, self.qualifier)
        s3 = S3Hook(**self._hook_parameters).conn
        self._require_buckets(s3)
        items = self._resolve_items(s3)
        batches = make_batches(
            items, self.max_items_per_batch, self.max_bytes_per_batch, self.batch_input_key
        )
        task = TaskIdentity.from_context(context)
        ti = context["ti"]
        location = run_store.RunLocation.for_task(
            self.results_bucket,
            self.results_prefix,
            ti.dag_id,
            ti.run_id,
            ti.task_id,
            -1 if task.map_index is None else task.map_index,
        )
        _, reused = run_store.write_input(s3, location, batches)
        self.log.info(
            "%s: %d items in %d batches, concurrency %d, results in %s%s",
            self.function_name,
            len(items),
            len(batches),
            self.max_concurrency,
            location.uri(),
            " (input unchanged since an earlier try: resuming)" if reused else "",
        )
        return FanOutConfig(
            function=dataclasses.asdict(function),
            qualifier=self.qualifier,
            bucket=location.bucket,
            prefix=location.prefix,
            try_number=ti.try_number,
            max_concurrency=self.max_concurrency,
            batch_input_key=self.batch_input_key,
            max_attempts=self.max_attempts,
            retry_delay_s=self.item_retry_delay,
            tolerated_failure_count=self.tolerated_failure_count,
            tolerated_failure_percentage=self.tolerated_failure_percentage,
            progress_interval_s=self.progress_interval,
            task=dataclasses.asdict(task),
        )

    def _require_buckets(self, s3: Any) -> None:
        """Fail before any invocation, in one line, when a bucket the task names is missing."""
        named = [("results_bucket", self.results_bucket)]
        if self.items_s3_uri is not None:
            named.append(("items_s3_uri's bucket", item_sources.split_s3_uri(self.items_s3_uri)[0]))
        try:
            for parameter, bucket in named:
                require_bucket(s3, bucket, parameter)
        except MissingBucketError as error:
            raise AirflowException(f"{type(self).__name__} {self.task_id!r}: {error}") from None

    def _resolve_items(self, s3: Any) -> list[Any]:
        if self.items_s3_uri is not None:
            return item_sources.s3_items(s3, self.items_s3_uri, self.items_s3_format)
        if self.items_dynamodb_query is not None:
            client = AwsBaseHook(client_type="dynamodb", **self._hook_parameters).conn
            return item_sources.dynamodb_items(client, self.items_dynamodb_query)
        items = rendered_value(self.items)
        if isinstance(items, str):
            try:
                items = json.loads(items)
            except ValueError as error:
                raise item_sources.ItemSourceError(
                    f"items is a string but not a JSON list: {error}"
                ) from None
        if not isinstance(items, (list, tuple)):
            raise item_sources.ItemSourceError(f"items must be a list (got {type(items).__name__})")
        return list(items)

    def _finish(self, context: Context, summary: dict[str, Any]) -> dict[str, Any]:
        self._record_invocations(context, summary)
        self.log.info(
            "%s: %d/%d items succeeded, %d failed (at most %d of %d may fail), %d invocations, %.1f/s, "
            "cost $%.6f; results %s",
            summary["function_name"],
            summary["succeeded_items"],
            summary["total_items"],
            summary["failed_items"],
            summary["tolerated_failures"],
            summary["total_items"],
            summary["invocations"],
            summary["invocations_per_s"] or 0,
            summary["cost_usd"],
            summary["results_uri"],
        )
        if summary["status"] != "succeeded":
            raise AirflowException(
                f"{summary['function_name']}: {summary['failed_items']} of {summary['total_items']} items failed "
                f"(at most {summary['tolerated_failures']} may fail), {summary['not_started_items']} not started; "
                f"per-item errors in {summary['results_uri']}. A retry re-invokes only the failed and "
                "unstarted batches."
            )
        return summary

    def _record_invocations(self, context: Context, summary: dict[str, Any]) -> None:
        """Replace this task instance's ledger rows with every try's records under ``metrics_uri``."""

        if not ledger.recording_enabled(self.record_invocations) or not summary.get("metrics_uri"):
            return
        try:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook

            rows = ledger.records_under(S3Hook(**self._hook_parameters).conn, summary["metrics_uri"])
        except Exception as error:  # never fail (and re-invoke) over the ledger
            self.log.warning("Invocation records under %s not read: %s", summary["metrics_uri"], error)
            return
        ledger.record_invocations(
            rows, ledger.task_run_key(context, per_try=False), context, self.log, self.tables_conn_id
        )
