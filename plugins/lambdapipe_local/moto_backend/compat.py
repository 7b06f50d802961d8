"""Fail loudly when moto changes under us.

The local stack replaces a handful of moto internals and builds on a few more (the DynamoDB read fast
path calls moto's table internals and subclasses its handler). A moto upgrade that renames or
reshapes any of them would otherwise fail in strange ways deep inside a test; this check names what
changed.
"""

from __future__ import annotations

import inspect
from importlib import import_module

SUPPORTED_MOTO_VERSION = "5.2.5"

# (module, attribute path, parameter names the patch or the fast path relies on)
PATCHED_SIGNATURES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("moto.core.responses", "gen_amzn_requestid_long", ("headerdict",)),
    ("moto.awslambda.responses", "LambdaResponse.invoke", ("self",)),
    ("moto.awslambda.responses", "LambdaResponse.invoke_async", ("self",)),
    (
        "moto.awslambda.models",
        "LambdaFunction.invoke",
        ("self", "body", "request_headers", "response_headers"),
    ),
    ("moto.awslambda.models", "LambdaFunction.__init__", ("self", "account_id", "spec", "region", "version")),
    ("moto.awslambda.models", "LambdaFunction.update_configuration", ("self", "config_updates")),
    ("moto.awslambda.models", "LambdaFunction.get_configuration", ("self", "on_create")),
    ("moto.awslambda.models", "LambdaBackend.create_event_source_mapping", ("self", "spec")),
    ("moto.awslambda.models", "LambdaBackend.get_function", ("self", "function_name_or_arn", "qualifier")),
    ("moto.awslambda.models", "LambdaBackend.get_alias", ("self", "name", "function_name")),
    (
        "moto.awslambda.models",
        "LambdaBackend.create_alias",
        ("self", "name", "function_name", "function_version", "description", "routing_config"),
    ),
    (
        "moto.awslambda.models",
        "LambdaBackend.update_alias",
        ("self", "name", "function_name", "function_version", "description", "routing_config"),
    ),
    ("moto.awslambda.models", "LambdaBackend.layers_versions_by_arn", ("self", "layer_version_arn")),
    ("moto.awslambda.models", "_zipfile_content", ("zipfile_content",)),
    ("moto.awslambda.models", "_s3_content", ("key",)),
    ("moto.awslambda.models", "LambdaFunction._set_function_code", ("self", "updated_spec")),
    ("moto.s3.notifications", "quote_plus", ("string", "safe")),
    ("moto.s3.notifications", "_invoke_awslambda", ("account_id", "event_body", "fn_arn", "region_name")),
    (
        "moto.sns.models",
        "Subscription.publish",
        (
            "self",
            "message",
            "message_id",
            "subject",
            "message_attributes",
            "group_id",
            "deduplication_id",
            "message_structure",
        ),
    ),
    (
        "moto.sns.models",
        "Subscription.get_post_data",
        ("self", "message", "message_id", "subject", "message_attributes"),
    ),
    ("moto.iam.models", "get_account_id_from", ("access_key",)),
    ("moto.apigateway.responses", "APIGatewayResponse.create_rest_api", ("self",)),
    ("moto.apigateway.models", "RestAPI.apply_patch_operations", ("self", "patch_operations")),
    ("moto.apigateway.models", "Resource.get_path", ("self",)),
    ("moto.core.exceptions", "JsonRESTError.get_body", ("self",)),
    ("moto.logs.models", "LogsBackend.create_log_stream", ("self", "log_group_name", "log_stream_name")),
    (
        "moto.logs.models",
        "LogsBackend.put_log_events",
        ("self", "log_group_name", "log_stream_name", "log_events"),
    ),
    # lambdapipe_local.moto_backend.dynamodb_api
    (
        "moto.dynamodb.models",
        "DynamoDBBackend.query",
        ("self", "table_name", "hash_key_dict", "range_comparison", "range_value_dicts", "limit"),
    ),
    ("moto.dynamodb.models", "DynamoDBBackend.scan", ("self", "table_name", "filters", "limit")),
    (
        "moto.dynamodb.models.table",
        "Table.query",
        ("self", "hash_key", "range_comparison", "range_objs", "limit", "exclusive_start_key"),
    ),
    ("moto.dynamodb.models.table", "Table.scan", ("self", "filters", "limit", "exclusive_start_key")),
    ("moto.dynamodb.models.table", "Table._get_last_evaluated_key", ("self", "last_result", "index_name")),
    (
        "moto.dynamodb.models.table",
        "Table._generate_attr_to_sort_by",
        ("self", "hash_key_attrs", "range_key_attrs"),
    ),
    ("moto.dynamodb.models", "get_filter_expression", ("expr", "names", "values")),
    ("moto.dynamodb.responses", "DynamoHandler.serialized", ("self", "action_result")),
    ("moto.dynamodb.responses", "DynamoHandler._enrich_response", ("headers", "body")),
)

# Lambda operations moto lacks and lambdapipe adds (provisioned_concurrency.py): if moto gains one, ours
# would silently replace it. Routed through moto.awslambda.urls.url_paths.
ADDED_LAMBDA_OPERATIONS: tuple[str, ...] = (
    "put_provisioned_concurrency_config",
    "get_provisioned_concurrency_config",
    "delete_provisioned_concurrency_config",
    "list_provisioned_concurrency_configs",
)


class IncompatibleMotoError(RuntimeError):
    """The installed moto is not the one the local Lambda runtime was built against."""


def check_moto() -> None:
    """Raise IncompatibleMotoError naming every mismatch; call before patching."""
    import moto

    problems = []
    if moto.__version__ != SUPPORTED_MOTO_VERSION:
        problems.append(
            f"moto {moto.__version__} is installed, lambdapipe_local supports {SUPPORTED_MOTO_VERSION}"
        )
    for module_name, path, expected in PATCHED_SIGNATURES:
        target = import_module(module_name)
        try:
            for part in path.split("."):
                target = getattr(target, part)
        except AttributeError:
            problems.append(f"{module_name}.{path} no longer exists")
            continue
        if getattr(target, "__module__", "").startswith("lambdapipe_local."):
            continue  # already replaced by our patch, which was checked before it was applied
        params = tuple(inspect.signature(inspect.unwrap(target)).parameters)
        if params[: len(expected)] != expected:
            problems.append(f"{module_name}.{path}{params} no longer starts with {expected}")
    problems += _added_operation_problems()
    if problems:
        raise IncompatibleMotoError(
            "lambdapipe's local AWS stack cannot patch this moto:\n  - " + "\n  - ".join(problems)
        )


def _added_operation_problems() -> list[str]:
    from moto.awslambda import urls
    from moto.awslambda.responses import LambdaResponse

    problems = []
    if not isinstance(getattr(urls, "url_paths", None), dict):
        problems.append("moto.awslambda.urls.url_paths is no longer a dict of routes")
    for name in ADDED_LAMBDA_OPERATIONS:
        existing = getattr(LambdaResponse, name, None)
        if existing is not None and not getattr(existing, "__module__", "").startswith("lambdapipe_local."):
            problems.append(f"moto.awslambda.responses.LambdaResponse.{name} now exists: drop lambdapipe's")
    return problems
