"""The local runtime executes Python zips with the Lambda contract, driven through boto3."""

from __future__ import annotations

import base64
import io
import json
import threading
import zipfile

import pytest

from tests.support.local_stack import invoke_json, wait_until

PY = "python3.11"


def test_sync_invoke_returns_the_handler_payload(make_function, python_probe_zip, lambda_client):
    make_function("echo", python_probe_zip, "probe.echo")
    response, payload = invoke_json(lambda_client, "echo", {"order_id": 7, "items": [1, 2]})
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response["ExecutedVersion"] == "$LATEST"
    assert payload == {"order_id": 7, "items": [1, 2]}


def test_raised_exception_is_an_unhandled_function_error_with_aws_error_json(
    make_function, python_probe_zip, lambda_client
):
    make_function("fail", python_probe_zip, "probe.fail")
    response, payload = invoke_json(lambda_client, "fail", {"order_id": 42})
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "bad order 42"
    assert any("probe.py" in frame for frame in payload["stackTrace"])


def test_error_returned_by_the_handler_is_not_a_function_error(
    make_function, python_probe_zip, lambda_client
):
    make_function("handled", python_probe_zip, "probe.handled_error")
    response, payload = invoke_json(lambda_client, "handled", {})
    assert "FunctionError" not in response
    assert payload["statusCode"] == 500


def test_context_object_matches_the_function_and_qualifier(make_function, python_probe_zip, lambda_client):
    make_function("ctx", python_probe_zip, "probe.context_view", MemorySize=256, Timeout=7)
    client_context = base64.b64encode(json.dumps({"custom": {"tenant": "acme"}}).encode()).decode()
    _, payload = invoke_json(lambda_client, "ctx", {}, ClientContext=client_context)
    assert payload["function_name"] == "ctx"
    assert payload["function_version"] == "$LATEST"
    assert payload["invoked_function_arn"].endswith(":function:ctx")
    assert payload["memory_limit_in_mb"] == "256"
    assert 0 < payload["remaining_ms"] <= 7000
    assert payload["log_group_name"] == "/aws/lambda/ctx"
    assert payload["client_context"] == {"tenant": "acme"}


def test_environment_is_the_functions_own_plus_lambdas_and_no_host_secrets(
    make_function, python_probe_zip, lambda_client, aws, monkeypatch
):
    monkeypatch.setenv("HOST_ONLY_SECRET", "must-not-leak")
    make_function(
        "env",
        python_probe_zip,
        "probe.environment",
        Environment={"Variables": {"STAGE": "test"}},
        MemorySize=192,
    )
    keys = [
        "STAGE",
        "AWS_REGION",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "HOST_ONLY_SECRET",
        "AWS_PROFILE",
        "VIRTUAL_ENV",
    ]
    _, payload = invoke_json(lambda_client, "env", {"keys": keys})
    assert payload["STAGE"] == "test"
    assert payload["AWS_REGION"] == "us-east-1"
    assert payload["AWS_LAMBDA_FUNCTION_NAME"] == "env"
    assert payload["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert payload["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "192"
    assert payload["AWS_ENDPOINT_URL"] == aws.endpoint_url
    assert payload["AWS_ACCESS_KEY_ID"]
    assert payload["HOST_ONLY_SECRET"] is None
    assert payload["AWS_PROFILE"] is None
    assert payload["VIRTUAL_ENV"] is None


def test_timeout_kills_the_handler_and_reports_sandbox_timedout(
    make_function, python_probe_zip, lambda_client
):
    make_function("slow", python_probe_zip, "probe.sleep", Timeout=1)
    response, payload = invoke_json(lambda_client, "slow", {"seconds": 30}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    log_tail = base64.b64decode(response["LogResult"]).decode()
    assert "Task timed out after 1.00 seconds" in log_tail
    # The environment was destroyed; the next call starts a new one and works.
    _, payload = invoke_json(lambda_client, "slow", {"seconds": 0})
    assert payload == {"slept": 0}


def slow_init_zip(seconds: float) -> bytes:
    """A handler module whose import takes ``seconds``: Lambda's init phase."""
    source = (
        f"import time\n\ntime.sleep({seconds})\n\n\n"
        "def handler(event, context):\n    return {'remaining_ms': context.get_remaining_time_in_millis()}\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("slow_init.py", source)
    return buffer.getvalue()


def test_an_init_longer_than_10_s_goes_on_under_the_functions_timeout_as_on_lambda(
    make_function, lambda_client
):
    """An init that outlasts its 10 s goes on within the first invocation, under the function's timeout
    (Lambda starts it again there): a slow import or a busy machine is no error, and the time past
    10 s counts against the timeout."""
    make_function("slow_init", slow_init_zip(11), "slow_init.handler", Timeout=30)
    response, payload = invoke_json(lambda_client, "slow_init", {})
    assert "FunctionError" not in response, payload
    assert 15_000 < payload["remaining_ms"] < 29_800


def test_an_init_past_10_s_and_the_timeout_fails_the_invocation_as_timed_out(make_function, lambda_client):
    make_function("stuck_init", slow_init_zip(60), "slow_init.handler", Timeout=1)
    response, payload = invoke_json(lambda_client, "stuck_init", {}, LogType="Tail")
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    log_tail = base64.b64decode(response["LogResult"]).decode()
    assert "Phase: invoke\tStatus: error\tError Type: Sandbox.Timedout" in log_tail


def test_memory_limit_is_enforced_as_runtime_out_of_memory(make_function, python_probe_zip, lambda_client):
    make_function("hog", python_probe_zip, "probe.allocate", MemorySize=128)
    response, payload = invoke_json(lambda_client, "hog", {"megabytes": 300})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.OutOfMemory"
    _, payload = invoke_json(lambda_client, "hog", {"megabytes": 8})
    assert payload == {"allocated": 8 * 1024 * 1024}


def test_runtime_exit_is_reported_as_runtime_exit_error(make_function, python_probe_zip, lambda_client):
    make_function("crash", python_probe_zip, "probe.crash")
    response, payload = invoke_json(lambda_client, "crash", {})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in payload["errorMessage"]


def test_log_tail_holds_function_output_and_report_line_with_init_duration_on_cold_start(
    make_function, python_probe_zip, lambda_client
):
    make_function("count", python_probe_zip, "probe.counter", MemorySize=256)
    cold, _ = invoke_json(lambda_client, "count", {}, LogType="Tail")
    warm, _ = invoke_json(lambda_client, "count", {}, LogType="Tail")
    cold_log = base64.b64decode(cold["LogResult"]).decode()
    warm_log = base64.b64decode(warm["LogResult"]).decode()
    assert cold_log.startswith("START RequestId: ")
    assert "invocation 1" in cold_log
    assert "END RequestId: " in cold_log
    report = next(line for line in cold_log.splitlines() if line.startswith("REPORT"))
    for field in (
        "Duration: ",
        "Billed Duration: ",
        "Memory Size: 256 MB",
        "Max Memory Used: ",
        "Init Duration: ",
    ):
        assert field in report
    assert "invocation 2" in warm_log
    assert "Init Duration" not in warm_log


def test_log_tail_is_the_last_4_kb_of_the_log(make_function, python_probe_zip, lambda_client):
    make_function("chatty", python_probe_zip, "probe.chatty")
    response, _ = invoke_json(lambda_client, "chatty", {"lines": 500}, LogType="Tail")
    tail = base64.b64decode(response["LogResult"])
    assert len(tail) == 4096
    assert b"line 00499" in tail
    assert b"line 00000" not in tail
    assert tail.rstrip().splitlines()[-1].startswith(b"REPORT RequestId:")


def test_no_log_result_without_log_type_tail(make_function, python_probe_zip, lambda_client):
    make_function("quiet", python_probe_zip, "probe.echo")
    response, _ = invoke_json(lambda_client, "quiet", {})
    assert "LogResult" not in response


def test_start_end_report_lines_are_written_to_cloudwatch_logs(
    make_function, python_probe_zip, lambda_client, aws
):
    make_function("logged", python_probe_zip, "probe.counter")
    response, _ = invoke_json(lambda_client, "logged", {})
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    logs = aws.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/logged")["logStreams"]
    assert len(streams) == 1
    assert "[$LATEST]" in streams[0]["logStreamName"]
    events = logs.get_log_events(logGroupName="/aws/lambda/logged", logStreamName=streams[0]["logStreamName"])
    messages = [event["message"] for event in events["events"]]
    assert messages[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert "invocation 1" in messages
    assert messages[-2] == f"END RequestId: {request_id}"
    assert messages[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")


def test_warm_environment_keeps_module_globals_across_calls(
    make_function, python_probe_zip, lambda_client, aws
):
    make_function("warm", python_probe_zip, "probe.counter")
    counts = [invoke_json(lambda_client, "warm", {})[1]["invocations"] for _ in range(4)]
    assert counts == [1, 2, 3, 4]
    assert aws.runtime_stats()["environments_created"] == 1


def test_concurrent_invocations_get_their_own_environments(make_function, python_probe_zip, aws):
    make_function("parallel", python_probe_zip, "probe.sleep")
    client = aws.client("lambda")
    results = []

    def call() -> None:
        results.append(invoke_json(client, "parallel", {"seconds": 1})[1])

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [{"slept": 1}] * 3
    stats = aws.runtime_stats()
    assert stats["environments_created"] == 3
    assert stats["peak_concurrency"] == 3


def test_idle_environments_are_reaped(make_function, python_probe_zip, lambda_client, aws):
    make_function("reaped", python_probe_zip, "probe.counter")
    invoke_json(lambda_client, "reaped", {})
    assert aws.stop_idle_environments() == 1
    # A reaped environment means a cold start: module globals start again.
    assert invoke_json(lambda_client, "reaped", {})[1]["invocations"] == 1


def test_unpackaged_import_fails_with_import_module_error_even_if_the_host_has_it(
    make_function, python_probe_zip, lambda_client
):
    import yaml  # noqa: F401  (the host venv has it: the function still must not see it)

    make_function("isolated", python_probe_zip, "imports_unpackaged.handler")
    response, payload = invoke_json(lambda_client, "isolated", {"a": 1})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError"
    assert "Unable to import module 'imports_unpackaged': No module named 'yaml'" in payload["errorMessage"]


def test_packaged_modules_and_the_runtime_boto3_are_importable(
    make_function, python_probe_zip, lambda_client
):
    make_function("packaged", python_probe_zip, "imports_packaged.handler")
    _, payload = invoke_json(lambda_client, "packaged", {})
    assert payload == {"helper": "packaged with the function"}
    make_function("paths", python_probe_zip, "probe.sys_path")
    _, sys_path = invoke_json(lambda_client, "paths", {})
    assert not any("site-packages" in entry and ".venv" in entry for entry in sys_path)


def test_handler_uses_s3_and_dynamodb_on_the_same_endpoint(
    make_function, python_probe_zip, lambda_client, aws
):
    aws.client("s3").create_bucket(Bucket="probe-data")
    aws.client("dynamodb").create_table(
        TableName="probe-table",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    make_function("storage", python_probe_zip, "probe.s3_and_dynamodb", Timeout=30)
    response, payload = invoke_json(
        lambda_client, "storage", {"bucket": "probe-data", "table": "probe-table"}
    )
    assert "FunctionError" not in response, payload
    assert payload == {
        "s3_body": "written by the handler",
        "dynamodb_item": {"pk": "from-lambda", "source": "storage"},
    }
    # The client sees what the handler wrote.
    item = aws.client("dynamodb").get_item(TableName="probe-table", Key={"pk": {"S": "from-lambda"}})["Item"]
    assert item["source"] == {"S": "storage"}


def test_dry_run_validates_without_running(make_function, python_probe_zip, lambda_client, aws):
    make_function("dry", python_probe_zip, "probe.counter")
    response = lambda_client.invoke(FunctionName="dry", InvocationType="DryRun", Payload=b"{}")
    assert response["StatusCode"] == 204
    assert aws.runtime_stats()["environments_created"] == 0


def test_invalid_json_payload_is_rejected(make_function, python_probe_zip, lambda_client):
    make_function("strict", python_probe_zip, "probe.echo")
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException):
        lambda_client.invoke(FunctionName="strict", Payload=b"{not json")


def test_request_larger_than_6_mb_is_rejected(make_function, python_probe_zip, lambda_client):
    make_function("big", python_probe_zip, "probe.echo")
    payload = json.dumps({"blob": "x" * (6 * 1024 * 1024)}).encode()
    with pytest.raises(lambda_client.exceptions.RequestTooLargeException):
        lambda_client.invoke(FunctionName="big", Payload=payload)


def test_unknown_function_is_resource_not_found(lambda_client, aws):
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="does-not-exist", Payload=b"{}")


def test_declared_python_version_runs_on_the_local_interpreter(
    make_function, python_probe_zip, lambda_client
):
    make_function("py312", python_probe_zip, "probe.echo", runtime="python3.12")
    response, payload = invoke_json(lambda_client, "py312", {"ok": True})
    assert "FunctionError" not in response
    assert payload == {"ok": True}


def test_async_invoke_returns_202_at_once_and_runs_in_the_background(
    make_function, python_probe_zip, lambda_client, aws
):
    aws.client("s3").create_bucket(Bucket="records")
    make_function(
        "recorder",
        python_probe_zip,
        "probe.record",
        Environment={"Variables": {"RECORD_BUCKET": "records", "RECORD_DELAY_S": "1"}},
        Timeout=10,
    )
    response = lambda_client.invoke(FunctionName="recorder", InvocationType="Event", Payload=b'{"n": 1}')
    assert response["StatusCode"] == 202
    s3 = aws.client("s3")
    assert s3.list_objects_v2(Bucket="records").get("KeyCount", 0) == 0, "the handler ran inside Invoke"
    keys = wait_until(lambda: s3.list_objects_v2(Bucket="records").get("Contents"), what="the async event")
    body = json.loads(s3.get_object(Bucket="records", Key=keys[0]["Key"])["Body"].read())
    assert body == {"n": 1}
