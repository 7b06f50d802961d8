"""Operator extra links: the console on AWS, the Lambda view on the local stack."""

from __future__ import annotations

from lambdapipe.links import LambdaFunctionLink, LambdaInvocationLogsLink, is_aws_endpoint


def test_on_aws_the_links_open_the_function_and_its_log_events_in_the_console() -> None:
    common = {
        "region_name": "eu-west-1",
        "aws_domain": "aws.amazon.com",
        "function_name": "etl",
        "local": False,
    }

    function_link = LambdaFunctionLink().format_link(**common)
    logs_link = LambdaInvocationLogsLink().format_link(**common, request_id="0f1e-42")

    assert function_link == "https://console.aws.amazon.com/lambda/home?region=eu-west-1#/functions/etl"
    assert logs_link == (
        "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:log-groups/log-group/"
        "$252Faws$252Flambda$252Fetl/log-events$3FfilterPattern$3D$25220f1e-42$2522"
    )


def test_only_amazonaws_endpoints_count_as_aws() -> None:
    assert is_aws_endpoint(None)
    assert is_aws_endpoint("https://lambda.eu-west-1.amazonaws.com")
    assert not is_aws_endpoint("http://127.0.0.1:4566")
    assert LambdaInvocationLogsLink().format_link(function_name="etl", request_id=None, local=True) == ""


def test_a_local_link_names_the_bare_function_whether_the_operator_was_given_an_arn_or_an_alias() -> None:
    arn = "arn:aws:lambda:us-east-1:000000000000:function:etl:live"

    for given in ("etl", "etl:live", arn):
        assert LambdaFunctionLink().format_link(function_name=given, local=True).endswith("/functions/etl")
        logs = LambdaInvocationLogsLink().format_link(function_name=given, request_id="r-1", local=True)
        assert logs.endswith("/functions/etl?request_id=r-1")
