"""Fault injection and call counting, driven through a real server with boto3 and the AWS CLI.

The server is the real local stack (LocalAws: moto's app behind AwsRequestMiddleware, with our
Lambda runtime) on a free loopback port. Every assertion on an error goes through botocore's parsers, so the wire format of
each injected fault is proven against the client that will meet it.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.parsers import QueryParser

from lambdapipe_local import LocalAws
from lambdapipe_local.admin.admin_client import LocalAwsAdmin, LocalAwsAdminError
from lambdapipe_local.admin.faults import FaultRule, FaultRuleError

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
FUNCTION = "hello_world"
OTHER_FUNCTION = "other_fn"
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    """The real local stack (its own instance: these tests keep state across the module)."""
    with LocalAws() as aws:
        yield aws.endpoint_url


@pytest.fixture(scope="module")
def client(endpoint_url: str) -> Callable[..., Any]:
    def make(service: str, config: Config = NO_RETRIES) -> Any:
        return boto3.client(
            service, endpoint_url=endpoint_url, region_name=REGION, config=config, **CREDENTIALS
        )

    return make


@pytest.fixture(scope="module")
def functions(client: Callable[..., Any]) -> None:
    """Two Lambda functions in moto (never invoked through moto: faults answer first)."""
    role = client("iam").create_role(RoleName="fault-tests", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for name in (FUNCTION, OTHER_FUNCTION):
        create_function(client("lambda"), name, role)


@pytest.fixture
def admin(endpoint_url: str) -> Iterator[LocalAwsAdmin]:
    admin = LocalAwsAdmin(endpoint_url)
    admin.clear_faults()
    admin.reset_calls()
    yield admin
    admin.clear_faults()


def zipped_handler() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


def create_function(lambda_client: Any, name: str, role: str) -> None:
    lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": zipped_handler()},
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def error_code(error: ClientError) -> str:
    return error.response["Error"]["Code"]


# --- each error kind, as botocore sees it ---


@pytest.mark.usefixtures("functions")
def test_lambda_throttle_raises_too_many_requests_with_retry_after(client, admin):
    admin.add_fault("lambda", "lambda_throttle", function_name=FUNCTION)
    lambda_client = client("lambda")

    with pytest.raises(lambda_client.exceptions.TooManyRequestsException) as raised:
        lambda_client.invoke(FunctionName=FUNCTION, Payload=b"{}")

    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert response["retryAfterSeconds"] == "1"
    assert response["Reason"] == "ConcurrentInvocationLimitExceeded"


@pytest.mark.usefixtures("functions")
@pytest.mark.parametrize("mode", ["standard", "legacy"])
def test_lambda_throttle_is_retried_by_botocore(client, admin, mode):
    admin.add_fault("lambda", "lambda_throttle", operation="GetFunction", count=2)
    lambda_client = client("lambda", Config(retries={"mode": mode, "total_max_attempts": 3}))

    lambda_client.get_function(FunctionName=FUNCTION)

    counts = admin.calls()
    assert counts[f"lambda:GetFunction:{FUNCTION}"] == 3
    assert counts.faults_injected[f"lambda:GetFunction:{FUNCTION}"] == 2


@pytest.mark.usefixtures("functions")
def test_lambda_unhandled_returns_function_error_without_running_moto(client, admin):
    admin.add_fault("lambda", "lambda_unhandled", function_name=FUNCTION)
    lambda_client = client("lambda")

    response = lambda_client.invoke(FunctionName=FUNCTION, Payload=b"{}")

    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["ExecutedVersion"] == "$LATEST"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "InjectedFault"
    assert "lambda_unhandled" in payload["errorMessage"]
    assert lambda_client.get_function(FunctionName=FUNCTION)  # the rule only ever applies to Invoke


@pytest.mark.usefixtures("functions")
def test_lambda_unhandled_on_an_async_invoke_is_accepted_like_aws(client, admin):
    admin.add_fault("lambda", "lambda_unhandled", function_name=FUNCTION)

    response = client("lambda").invoke(FunctionName=FUNCTION, InvocationType="Event", Payload=b"{}")

    assert response["StatusCode"] == 202
    assert "FunctionError" not in response


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [("s3_internal_error", "InternalError", 500), ("s3_slow_down", "SlowDown", 503)],
)
def test_s3_errors_have_the_s3_code_and_status(client, admin, error, code, status):
    s3 = client("s3")
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    admin.add_fault("s3", error, operation="PutObject")

    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="a/b.txt", Body=b"x")

    assert error_code(raised.value) == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_s3_slow_down_is_retried_by_botocore(client, admin):
    s3 = client("s3", Config(retries={"mode": "standard", "total_max_attempts": 2}))
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    admin.add_fault("s3", "s3_slow_down", operation="PutObject", count=1)

    s3.put_object(Bucket=bucket, Key="k", Body=b"x")

    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"
    assert admin.calls()["s3:PutObject"] == 2


def test_dynamodb_throughput_raises_provisioned_throughput_exceeded(client, admin):
    dynamodb = client("dynamodb")
    table = make_table(dynamodb)
    admin.add_fault("dynamodb", "dynamodb_throughput", operation="PutItem")

    with pytest.raises(dynamodb.exceptions.ProvisionedThroughputExceededException):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": "1"}})


def test_dynamodb_throughput_is_retried_by_botocores_dynamodb_policy(client, admin):
    dynamodb = client("dynamodb", Config(retries={"mode": "legacy"}))  # DynamoDB: 10 attempts by default
    table = make_table(dynamodb)
    admin.add_fault("dynamodb", "dynamodb_throughput", operation="PutItem", count=3)

    dynamodb.put_item(TableName=table, Item={"pk": {"S": "1"}})

    assert admin.calls()["dynamodb:PutItem"] == 4
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "1"}})["Item"] == {"pk": {"S": "1"}}


def make_table(dynamodb: Any) -> str:
    table = unique("table")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return table


def test_sns_internal_error_is_the_query_protocol_internal_error(client, admin):
    sns = client("sns")
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    admin.add_fault("sns", "internal_error", operation="Publish")

    with pytest.raises(sns.exceptions.InternalErrorException) as raised:
        sns.publish(TopicArn=topic, Message="hello")

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert raised.value.response["Error"]["Type"] == "Receiver"


def test_sqs_internal_error_is_a_json_500_with_the_query_error_code(client, admin):
    sqs = client("sqs")
    queue = sqs.create_queue(QueueName=unique("queue"))["QueueUrl"]
    admin.add_fault("sqs", "internal_error", operation="SendMessage")

    with pytest.raises(ClientError) as raised:
        sqs.send_message(QueueUrl=queue, MessageBody="hello")

    assert error_code(raised.value) == "InternalFailure"
    assert raised.value.response["Error"]["Type"] == "Receiver"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_sqs_internal_error_answers_a_query_protocol_request_in_xml(endpoint_url, admin):
    admin.add_fault("sqs", "internal_error", operation="SendMessage")
    form = b"Action=SendMessage&Version=2012-11-05&QueueUrl=http%3A%2F%2Fx%2F123456789012%2Fq&MessageBody=hi"
    request = AWSRequest(
        "POST", endpoint_url + "/", data=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    SigV4Auth(Credentials("testing", "testing"), "sqs", REGION).add_auth(request)
    prepared = request.prepare()

    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(
            urllib.request.Request(
                prepared.url, data=prepared.body, headers=dict(prepared.headers), method="POST"
            )
        )

    response = {
        "status_code": raised.value.code,
        "headers": dict(raised.value.headers),
        "body": raised.value.read(),
    }
    parsed = QueryParser().parse(response, None)
    assert (raised.value.code, parsed["Error"]["Code"], parsed["Error"]["Type"]) == (
        500,
        "InternalFailure",
        "Receiver",
    )
    assert admin.calls().faults_injected == {"sqs:SendMessage": 1}


def test_internal_error_speaks_rpc_v2_cbor_to_cloudwatch(client, admin):
    cloudwatch = client("cloudwatch")
    admin.add_fault("cloudwatch", "internal_error", operation="PutMetricData")

    with pytest.raises(cloudwatch.exceptions.InternalServiceFault) as raised:
        cloudwatch.put_metric_data(Namespace="lambdapipe", MetricData=[{"MetricName": "rows", "Value": 1.0}])

    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert admin.calls().faults_injected == {"cloudwatch:PutMetricData": 1}


def test_internal_error_is_retried_as_a_transient_error(client, admin):
    sns = client("sns", Config(retries={"mode": "standard", "total_max_attempts": 2}))
    topic = sns.create_topic(Name=unique("topic"))["TopicArn"]
    admin.add_fault("sns", "internal_error", operation="Publish", count=1)

    assert sns.publish(TopicArn=topic, Message="hello")["MessageId"]
    assert admin.calls()["sns:Publish"] == 2


# --- rate, count, latency, matching ---


def test_rate_with_a_seed_fails_the_same_calls_every_time(client, admin):
    s3 = client("s3")
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    admin.add_fault("s3", "s3_internal_error", operation="ListObjectsV2", rate=0.5, seed=42)

    outcomes = []
    for _ in range(20):
        try:
            s3.list_objects_v2(Bucket=bucket)
            outcomes.append(False)
        except ClientError:
            outcomes.append(True)

    draws = random.Random(42)
    assert outcomes == [draws.random() < 0.5 for _ in range(20)]
    assert 0 < sum(outcomes) < 20
    assert admin.calls().faults_injected["s3:ListObjectsV2"] == sum(outcomes)


def test_a_rule_with_a_count_expires_after_that_many_hits(client, admin):
    s3 = client("s3")
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    fault_id = admin.add_fault("s3", "s3_slow_down", operation="PutObject", count=2)
    assert [fault.id for fault in admin.faults()] == [fault_id]

    for _ in range(2):
        with pytest.raises(ClientError, match="SlowDown"):
            s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")

    assert admin.faults() == []
    counts = admin.calls()
    assert (counts["s3:PutObject"], counts.faults_injected["s3:PutObject"]) == (3, 2)


def test_latency_only_rule_delays_the_call_and_lets_it_through(client, admin):
    sqs = client("sqs")
    admin.add_fault("sqs", operation="ListQueues", latency_ms=300)

    started = time.monotonic()
    sqs.list_queues()
    elapsed = time.monotonic() - started

    assert elapsed >= 0.3
    counts = admin.calls()
    assert (counts["sqs:ListQueues"], counts.delays_injected["sqs:ListQueues"]) == (1, 1)
    assert counts.faults_injected == {}


@pytest.mark.usefixtures("functions")
def test_a_function_rule_hits_that_function_by_any_name_form_and_no_other(client, admin):
    admin.add_fault("lambda", "lambda_throttle", function_name=FUNCTION)
    lambda_client = client("lambda")

    assert (
        lambda_client.get_function(FunctionName=OTHER_FUNCTION)["Configuration"]["FunctionName"]
        == OTHER_FUNCTION
    )
    arn = f"arn:aws:lambda:{REGION}:123456789012:function:{FUNCTION}"
    for name in (FUNCTION, f"{FUNCTION}:live", arn, f"{arn}:1"):
        with pytest.raises(lambda_client.exceptions.TooManyRequestsException):
            lambda_client.get_function(FunctionName=name)

    assert admin.calls().faults_injected[f"lambda:GetFunction:{FUNCTION}"] == 4


@pytest.mark.usefixtures("functions")
def test_an_operation_rule_leaves_other_operations_alone(client, admin):
    admin.add_fault("lambda", "lambda_throttle", operation="GetFunctionConfiguration")
    lambda_client = client("lambda")

    lambda_client.get_function(FunctionName=FUNCTION)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException):
        lambda_client.get_function_configuration(FunctionName=FUNCTION)


# --- call counting ---


@pytest.mark.usefixtures("functions")
def test_lambda_control_plane_calls_are_counted_per_operation_and_function(client, admin):
    lambda_client = client("lambda")
    role = client("iam").get_role(RoleName="fault-tests")["Role"]["Arn"]
    name = unique("deploy").replace("-", "_")
    admin.reset_calls()

    create_function(lambda_client, name, role)
    lambda_client.update_function_code(FunctionName=name, ZipFile=zipped_handler())
    lambda_client.update_function_code(FunctionName=name, ZipFile=zipped_handler())
    lambda_client.update_function_configuration(FunctionName=name, Timeout=10)
    version = lambda_client.publish_version(FunctionName=name)["Version"]
    lambda_client.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)

    assert admin.calls().calls == {
        "lambda:CreateFunction": 1,
        f"lambda:CreateFunction:{name}": 1,
        "lambda:UpdateFunctionCode": 2,
        f"lambda:UpdateFunctionCode:{name}": 2,
        "lambda:UpdateFunctionConfiguration": 1,
        f"lambda:UpdateFunctionConfiguration:{name}": 1,
        "lambda:PublishVersion": 1,
        f"lambda:PublishVersion:{name}": 1,
        "lambda:CreateAlias": 1,
        f"lambda:CreateAlias:{name}": 1,
        "lambda:PutFunctionConcurrency": 1,
        f"lambda:PutFunctionConcurrency:{name}": 1,
    }


def test_s3_data_plane_calls_are_identified(client, admin):
    s3 = client("s3")
    bucket = unique("bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=b"x")
    s3.copy_object(Bucket=bucket, Key="b.txt", CopySource=f"{bucket}/dir/a.txt")
    s3.head_object(Bucket=bucket, Key="b.txt")
    s3.list_objects_v2(Bucket=bucket, Prefix="dir/")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"y")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big",
        UploadId=upload,
        MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]},
    )
    urllib.request.urlopen(
        s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "big"})
    ).read()
    s3.delete_object(Bucket=bucket, Key="b.txt")

    assert admin.calls().calls == {
        f"s3:{operation}": 1
        for operation in (
            "CreateBucket",
            "PutObject",
            "CopyObject",
            "HeadObject",
            "ListObjectsV2",
            "CreateMultipartUpload",
            "UploadPart",
            "CompleteMultipartUpload",
            "GetObject",
            "DeleteObject",
        )
    }


@pytest.mark.usefixtures("functions")
def test_the_aws_cli_is_identified_like_boto3(endpoint_url, admin, tmp_path: Path):
    aws = Path(sys.executable).parent / "aws"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }
    command = [str(aws), "--endpoint-url", endpoint_url, "lambda", "get-function-configuration"]

    done = subprocess.run(
        [*command, "--function-name", FUNCTION], env=env, capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["FunctionName"] == FUNCTION
    assert admin.calls()[f"lambda:GetFunctionConfiguration:{FUNCTION}"] == 1


def test_unidentified_requests_pass_through_untouched(endpoint_url, admin):
    admin.add_fault("s3", "s3_internal_error")

    with urllib.request.urlopen(endpoint_url + "/") as response:  # unsigned: no service to identify
        assert response.status == 200

    assert admin.calls().calls == {"unknown:unknown": 1}


# --- admin API ---


def test_admin_endpoints_manage_rules_and_are_not_counted(admin):
    assert admin.health() == {"status": "ok"}
    first = admin.add_fault("s3", "s3_slow_down", rate=0.25, seed=1)
    second = admin.add_fault("lambda", latency_ms=50)

    assert [(fault.id, fault.rule, fault.hits) for fault in admin.faults()] == [
        (first, FaultRule(service="s3", error="s3_slow_down", rate=0.25, seed=1), 0),
        (second, FaultRule(service="lambda", latency_ms=50), 0),
    ]
    admin.remove_fault(first)
    assert [fault.id for fault in admin.faults()] == [second]
    with pytest.raises(LocalAwsAdminError, match="no fault rule with id") as raised:
        admin.remove_fault(first)
    assert raised.value.status == 404
    assert admin.clear_faults() == 1
    assert admin.calls().calls == {}


def test_admin_rejects_an_invalid_rule_with_the_reason(endpoint_url, admin):
    request = urllib.request.Request(
        endpoint_url + "/_lambdapipe/faults",
        data=json.dumps({"service": "s3", "error": "lambda_throttle"}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Lambdapipe-Admin": "1"},
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request)

    assert raised.value.code == 400
    assert "applies to ['lambda'], not to service 's3'" in json.load(raised.value)["error"]


def test_admin_answers_unknown_paths_and_methods_itself(endpoint_url):
    for method, path, status in [("GET", "/_lambdapipe/nope", 404), ("PUT", "/_lambdapipe/calls", 405)]:
        with pytest.raises(urllib.error.HTTPError) as raised:
            request = urllib.request.Request(endpoint_url + path, method=method)
            request.add_header("X-Lambdapipe-Admin", "1")
            urllib.request.urlopen(request)
        assert raised.value.code == status


# --- rule validation ---


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"service": "lamda", "error": "lambda_throttle"}, "unknown service 'lamda'"),
        ({"service": "lambda", "operation": "invoke", "error": "lambda_throttle"}, "did you mean 'Invoke'"),
        ({"service": "lambda", "error": "throttle"}, "unknown error 'throttle'"),
        ({"service": "s3", "error": "lambda_unhandled"}, "applies to ['lambda']"),
        (
            {"service": "lambda", "operation": "GetFunction", "error": "lambda_unhandled"},
            "only to ['Invoke']",
        ),
        ({"service": "s3", "function_name": "f", "error": "s3_slow_down"}, "function_name only applies"),
        ({"service": "lambda", "function_name": "f:live", "error": "lambda_throttle"}, "bare function name"),
        ({"service": "s3", "error": "s3_slow_down", "rate": 1.5}, "rate must be between 0 and 1"),
        ({"service": "s3", "error": "s3_slow_down", "count": 0}, "count must be a positive integer"),
        ({"service": "s3", "error": "s3_slow_down", "latency_ms": -1}, "latency_ms must be a number"),
        ({"service": "s3"}, "needs an error, a latency_ms, or both"),
        ({"service": "s3", "error": "s3_slow_down", "rates": 1}, "unknown fault rule field(s) ['rates']"),
    ],
)
def test_invalid_rules_are_refused_with_a_clear_message(fields, message):
    with pytest.raises(FaultRuleError) as raised:
        FaultRule.from_dict(fields)
    assert message in str(raised.value)
