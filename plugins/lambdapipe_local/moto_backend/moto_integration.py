"""Wires our Lambda runtime into moto in place of its Docker executor.

moto keeps the control plane (functions, versions, aliases, configs). Every path that runs code goes
through here instead: the Invoke API, S3 and SNS notifications (asynchronous, as on AWS, not inside
PutObject/Publish), other moto-internal triggers, and event source mappings (our pollers replace
moto's inline, one-message-at-a-time delivery). Patches are applied once per process and route to the
currently installed service.
"""

from __future__ import annotations

import json
import threading
from typing import Any
from urllib.parse import quote_plus, unquote

from lambdapipe_local.lambda_runtime import alias_routing
from lambdapipe_local.lambda_runtime.invoke_api import handle_invoke
from lambdapipe_local.lambda_runtime.lambda_service import LocalLambdaService
from lambdapipe_local.moto_backend import (
    api_gateway,
    cloudwatch_statistics,
    code_uploads,
    compat,
    function_urls,
)

_state: dict[str, LocalLambdaService | None] = {"service": None}
_patch_lock = threading.Lock()
_patched = False


def install(service: LocalLambdaService) -> None:
    global _patched
    with _patch_lock:
        if not _patched:
            compat.check_moto()
            _apply_patches()
            _patched = True
        _state["service"] = service


def uninstall(service: LocalLambdaService) -> None:
    with _patch_lock:
        if _state["service"] is service:
            _state["service"] = None


def is_current(service: LocalLambdaService) -> bool:
    return _state["service"] is service


def current_service() -> LocalLambdaService:
    service = _state["service"]
    if service is None:
        raise RuntimeError("no local Lambda service is running in this process (start LocalAws first)")
    return service


def _apply_patches() -> None:
    from moto.awslambda import models as lambda_models
    from moto.awslambda.models import LambdaBackend, LambdaFunction
    from moto.awslambda.responses import LambdaResponse
    from moto.core import responses as core_responses
    from moto.s3 import notifications as s3_notifications
    from moto.sns.models import Subscription

    from lambdapipe_local.lambda_runtime import provisioned_concurrency

    core_responses.gen_amzn_requestid_long = _keep_request_id(core_responses.gen_amzn_requestid_long)
    LambdaResponse.invoke = _invoke_response
    LambdaResponse.invoke_async = _invoke_async_response
    LambdaFunction.invoke = _function_invoke
    s3_notifications._invoke_awslambda = _s3_notification
    s3_notifications.quote_plus = _s3_event_key_quote
    Subscription.publish = _wrap_sns_publish(Subscription.publish)
    LambdaBackend.create_event_source_mapping = _wrap_create_esm(LambdaBackend.create_event_source_mapping)
    LambdaFunction.__init__ = _wrap_function_init(LambdaFunction.__init__)
    LambdaFunction.update_configuration = _wrap_update_configuration(LambdaFunction.update_configuration)
    LambdaFunction.get_configuration = _wrap_get_configuration(LambdaFunction.get_configuration)
    lambda_models._zipfile_content = code_uploads.refusing_bad_code(lambda_models._zipfile_content)
    lambda_models._s3_content = code_uploads.refusing_bad_code(lambda_models._s3_content)
    LambdaFunction._set_function_code = code_uploads.keep_code_on_refusal(LambdaFunction._set_function_code)
    provisioned_concurrency.install_api()  # moto has no provisioned concurrency API at all
    api_gateway.install()
    cloudwatch_statistics.install()
    function_urls.install()
    LambdaBackend.create_alias = alias_routing.refusing_bad_weights(LambdaBackend.create_alias)
    LambdaBackend.update_alias = alias_routing.refusing_bad_weights(LambdaBackend.update_alias)


def _keep_request_id(original: Any) -> Any:
    def gen_amzn_requestid_long(headerdict: dict[str, Any] | None = None) -> str:
        """moto stamps a random request id on every response; an invocation's must be its own."""
        if headerdict is not None and "x-amzn-requestid" in headerdict:
            return headerdict["x-amzn-requestid"]
        return original(headerdict)

    return gen_amzn_requestid_long


def _respond(
    status: int, headers: dict[str, str], body: bytes | str
) -> tuple[int, dict[str, str], bytes | str]:
    """moto takes the status code from a ``status`` header, not from the tuple."""
    return status, headers | {"status": str(status)}, body


def _invoke_response(self: Any) -> tuple[int, dict[str, str], bytes | str]:
    """``POST /2015-03-31/functions/{name}/invocations`` when it reaches moto (the fast path usually answers)."""
    function_name = unquote(self.path.split("?")[0].rstrip("/").rsplit("/", 2)[-2])
    qualifier = self.querystring.get("Qualifier", [None])[0]
    raw = self.raw_body if isinstance(self.raw_body, bytes) else (self.raw_body or "").encode("utf-8")
    status, headers, body = handle_invoke(
        current_service(), self.current_account, self.region, function_name, qualifier, self.headers, raw
    )
    return _respond(status, headers, body)


def _invoke_async_response(self: Any) -> tuple[int, dict[str, str], str]:
    """The legacy ``InvokeAsync`` API: always asynchronous."""
    service = current_service()
    function_name = unquote(self.path.rstrip("/").rsplit("/", 2)[-2])
    spec, invoked_arn = service.resolve(self.current_account, self.region, function_name, route=True)
    raw = self.raw_body if isinstance(self.raw_body, bytes) else (self.raw_body or "").encode("utf-8")
    service.invoke_async(spec, raw or b"{}", invoked_arn)
    return _respond(202, {}, '{"Status": 202}')


def _function_invoke(self: Any, body: str, request_headers: Any, response_headers: Any) -> bytes:
    """moto-internal synchronous triggers (Kinesis mappings, log subscriptions, ...) run real code too."""
    service = current_service()
    spec, invoked_arn = service.resolve(
        self.account_id, self.region, self.function_name, _version_qualifier(self), route=True
    )
    event = body if isinstance(body, bytes) else (body or "{}").encode("utf-8")
    result = service.invoke(spec, event, invoked_arn)
    if result.function_error:
        response_headers["x-amz-function-error"] = result.function_error
    return result.payload


def _version_qualifier(fn: Any) -> str | None:
    version = str(fn.version)
    return None if version == "$LATEST" else version


def _s3_notification(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    """S3 invokes Lambda asynchronously: queue the event instead of running it inside PutObject."""
    current_service().invoke_async_arn(
        _with_account(fn_arn, account_id), json.dumps(event_body).encode("utf-8")
    )


def _s3_event_key_quote(key: str) -> str:
    """S3 event keys are form-encoded but keep their slashes (moto encodes ``/`` as ``%2F``)."""
    return quote_plus(key, safe="/")


def _with_account(fn_arn: str, account_id: str) -> str:
    parts = fn_arn.split(":")
    if len(parts) > 4 and not parts[4]:
        parts[4] = account_id
    return ":".join(parts)


def _wrap_sns_publish(original: Any) -> Any:
    def publish(
        self: Any,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        group_id: str | None = None,
        deduplication_id: str | None = None,
        message_structure: str | None = None,
    ) -> None:
        """SNS invokes Lambda asynchronously with the real topic, message id and attributes."""
        if self.protocol != "lambda":
            return original(
                self,
                message,
                message_id,
                subject,
                message_attributes,
                group_id,
                deduplication_id,
                message_structure,
            )
        if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
            message_attributes, message
        ):
            return None
        if message_structure == "json":
            message = self._parse_message_structure(message, self.protocol)
        notification = self.get_post_data(message, message_id, subject, message_attributes=message_attributes)
        notification["SigningCertUrl"] = notification.pop("SigningCertURL", "")
        notification["UnsubscribeUrl"] = notification.pop("UnsubscribeURL", "")
        notification.setdefault("MessageAttributes", {})
        event = {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": self.arn,
                    "Sns": notification,
                }
            ]
        }
        current_service().invoke_async_arn(self.endpoint, json.dumps(event).encode("utf-8"))
        return None

    return publish


def _wrap_create_esm(original: Any) -> Any:
    def create_event_source_mapping(self: Any, spec: dict[str, Any]) -> Any:
        """Keep the mapping in the control plane but take SQS and DynamoDB delivery over (see event_sources)."""
        esm = original(self, spec)
        _detach_inline_delivery(self, esm)
        return esm

    return create_event_source_mapping


def _detach_inline_delivery(backend: Any, esm: Any) -> None:
    from moto.dynamodb.models import dynamodb_backends
    from moto.sqs.models import sqs_backends

    for queue in sqs_backends[backend.account_id][backend.region_name].queues.values():
        if queue.queue_arn == esm.event_source_arn:
            queue.lambda_event_source_mappings.pop(esm.function_arn, None)
    ddb = dynamodb_backends[backend.account_id][backend.region_name]
    for table in ddb.tables.values():
        if table.stream_shard is not None and esm.event_source_arn.startswith(table.table_arn + "/stream/"):
            table.lambda_event_source_mappings.pop(esm.function_arn, None)


def _wrap_function_init(original: Any) -> Any:
    def __init__(self: Any, account_id: str, spec: dict[str, Any], region: str, version: Any = 1) -> None:
        original(self, account_id, spec, region, version)
        self.dead_letter_config = spec.get("DeadLetterConfig") or None

    return __init__


def _wrap_update_configuration(original: Any) -> Any:
    def update_configuration(self: Any, config_updates: dict[str, Any]) -> dict[str, Any]:
        if "DeadLetterConfig" in config_updates:
            self.dead_letter_config = config_updates["DeadLetterConfig"] or None
        original(self, config_updates)
        return self.get_configuration()

    return update_configuration


def _wrap_get_configuration(original: Any) -> Any:
    def get_configuration(self: Any, on_create: bool = False) -> dict[str, Any]:
        config = original(self, on_create)
        if getattr(self, "dead_letter_config", None):
            config["DeadLetterConfig"] = self.dead_letter_config
        return config

    return get_configuration
