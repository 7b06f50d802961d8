"""The local runtime executes Node.js zips with the Lambda contract, driven through boto3."""

from __future__ import annotations

import base64

import pytest

from tests.support.local_stack import invoke_json

NODE = "nodejs20.x"


@pytest.fixture
def node_function(make_function, node_probe_zip):
    def create(name: str, handler: str, **config) -> str:
        return make_function(name, node_probe_zip, handler, runtime=NODE, **config)

    return create


def test_async_handler_result_is_the_payload(node_function, lambda_client):
    node_function("node-echo", "index.echo")
    response, payload = invoke_json(lambda_client, "node-echo", {"items": [1, 2], "note": "é"})
    assert "FunctionError" not in response
    assert payload == {"items": [1, 2], "note": "é"}


def test_callback_handler_result_is_the_payload(node_function, lambda_client):
    node_function("node-callback", "index.callback")
    assert invoke_json(lambda_client, "node-callback", {"a": 1})[1] == {"style": "callback", "got": {"a": 1}}


def test_esm_handler_runs(node_function, lambda_client):
    node_function("node-esm", "esm.handler")
    assert invoke_json(lambda_client, "node-esm", {"a": 1})[1] == {"module": "esm", "got": {"a": 1}}


def test_thrown_error_is_unhandled_with_error_type_and_trace(node_function, lambda_client):
    node_function("node-fail", "index.fail")
    response, payload = invoke_json(lambda_client, "node-fail", {"order_id": 3})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "TypeError"
    assert payload["errorMessage"] == "bad order 3"
    assert any("index.js" in frame for frame in payload["trace"])


def test_missing_dependency_fails_with_import_module_error(node_function, lambda_client):
    node_function("node-missing", "missing_dep.handler")
    response, payload = invoke_json(lambda_client, "node-missing", {"n": 1})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "Cannot find module 'left-pad'" in payload["errorMessage"]


def test_warm_environment_keeps_module_state_and_reports_init_once(node_function, lambda_client, aws):
    node_function("node-count", "index.counter")
    first, payload_1 = invoke_json(lambda_client, "node-count", {}, LogType="Tail")
    second, payload_2 = invoke_json(lambda_client, "node-count", {}, LogType="Tail")
    assert (payload_1["invocations"], payload_2["invocations"]) == (1, 2)
    cold_log = base64.b64decode(first["LogResult"]).decode()
    warm_log = base64.b64decode(second["LogResult"]).decode()
    assert f"{payload_1['requestId']}\tINFO\tinvocation 1" in cold_log
    assert "Init Duration" in cold_log
    assert "Init Duration" not in warm_log
    assert aws.runtime_stats()["environments_created"] == 1


def test_context_and_environment(node_function, lambda_client, aws):
    node_function("node-ctx", "index.contextView", MemorySize=256, Timeout=5)
    _, payload = invoke_json(lambda_client, "node-ctx", {})
    assert payload["functionName"] == "node-ctx"
    assert payload["functionVersion"] == "$LATEST"
    assert payload["memoryLimitInMB"] == "256"
    assert 0 < payload["remainingMs"] <= 5000
    node_function("node-env", "index.environment", Environment={"Variables": {"STAGE": "dev"}})
    _, env = invoke_json(lambda_client, "node-env", {"keys": ["STAGE", "AWS_REGION", "AWS_ENDPOINT_URL"]})
    assert env == {"STAGE": "dev", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": aws.endpoint_url}


def test_timeout_is_enforced(node_function, lambda_client):
    node_function("node-slow", "index.sleep", Timeout=1)
    response, payload = invoke_json(lambda_client, "node-slow", {"seconds": 20})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert invoke_json(lambda_client, "node-slow", {"seconds": 0})[1] == {"slept": 0}


def test_published_version_keeps_running_its_own_code(make_function, lambda_client, node_probe_zip):
    make_function("node-versions", node_probe_zip, "index.echo", runtime=NODE)
    lambda_client.publish_version(FunctionName="node-versions")
    lambda_client.update_function_configuration(FunctionName="node-versions", Handler="esm.handler")
    assert invoke_json(lambda_client, "node-versions", {"x": 1}, Qualifier="1")[1] == {"x": 1}
    assert invoke_json(lambda_client, "node-versions", {"x": 1})[1] == {"module": "esm", "got": {"x": 1}}


def test_handler_uses_s3_and_dynamodb_with_the_aws_sdk_v3(
    node_function, lambda_client, aws, node_sdk_available
):
    assert node_sdk_available, "install the AWS SDK v3 for local Node.js functions: `make install`"
    aws.client("s3").create_bucket(Bucket="node-data")
    aws.client("dynamodb").create_table(
        TableName="node-table",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    node_function("node-storage", "index.s3AndDynamodb", Timeout=30, MemorySize=256)
    response, payload = invoke_json(
        lambda_client, "node-storage", {"bucket": "node-data", "table": "node-table"}
    )
    assert "FunctionError" not in response, payload
    assert payload == {
        "s3Body": "written by node",
        "dynamodbItem": {"pk": {"S": "from-node"}, "source": {"S": "node-storage"}},
    }
