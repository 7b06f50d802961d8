"""Extra links on our Lambda operators: the function and the invocation's log lines.

On AWS they open the console; against a local endpoint (``lambdapipe local``) the console would show
nothing, so they open the Lambda view of our Airflow plugin instead, which reads the local
CloudWatch Logs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink

LOCAL_VIEW_PATH = "/lambdapipe/functions"


def is_aws_endpoint(endpoint_url: str | None) -> bool:
    """True for AWS itself (no custom endpoint, or an amazonaws.com one)."""
    return not endpoint_url or ".amazonaws.com" in endpoint_url


def bare_function_name(function: str) -> str:
    """``f`` of ``f``, ``f:live``, ``account:function:f`` or a full ARN: the Lambda view's pages are per
    function. (The local stack has its twin in ``lambdapipe_local.front.aws_request``: it imports no
    provider module.)"""
    parts = function.split(":")
    return parts[parts.index("function") + 1] if "function" in parts[:-1] else parts[0]


class LambdaFunctionLink(BaseAwsLink):
    """The function's page."""

    name = "Lambda Function"
    key = "lambdapipe_lambda_function"
    format_str = BASE_AWS_CONSOLE_LINK + "/lambda/home?region={region_name}#/functions/{function_name}"

    def format_link(self, **kwargs: Any) -> str:
        if kwargs.get("local"):
            return f"{LOCAL_VIEW_PATH}/{quote(bare_function_name(kwargs['function_name']))}"
        return super().format_link(**kwargs)


class LambdaInvocationLogsLink(BaseAwsLink):
    """The log lines of the task's (last) invocation, found by its request id."""

    name = "Lambda Invocation Logs"
    key = "lambdapipe_lambda_invocation_logs"
    format_str = (
        BASE_AWS_CONSOLE_LINK + "/cloudwatch/home?region={region_name}#logsV2:log-groups/log-group/"
        "{log_group}/log-events{filter}"
    )

    def format_link(self, **kwargs: Any) -> str:
        function_name, request_id = kwargs.get("function_name"), kwargs.get("request_id")
        if not function_name or not request_id:
            return ""
        if kwargs.get("local"):
            page = quote(bare_function_name(function_name))
            return f"{LOCAL_VIEW_PATH}/{page}?{urlencode({'request_id': request_id})}"
        # The console's fragment URL escapes values twice, with $ in place of % ("/" is $252F), but its
        # own "?" and "=" only once ($3F, $3D): "log-events$3FfilterPattern$3D$2522<id>$2522".
        log_group = quote(f"/aws/lambda/{function_name}", safe="").replace("%", "$25")
        filter_part = "$3FfilterPattern$3D" + quote(f'"{request_id}"', safe="").replace("%", "$25")
        return super().format_link(**{**kwargs, "log_group": log_group, "filter": filter_part})
