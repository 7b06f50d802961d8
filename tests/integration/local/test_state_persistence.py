"""`lambdapipe local` keeps its AWS state across restarts, a kill -9 included; `--ephemeral` and
`reset` start empty.

Before, the stack forgot everything on exit while the demo's Iceberg catalog (in the Airflow home)
remembered tables whose files lived in the stack's S3: the second `make run` failed every upload run.
Each server here is its own process, so nothing survives in memory between two of them.
"""

from __future__ import annotations

import json
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import psutil
import pytest

from lambdapipe_local.front.change_tracking import changes_state
from lambdapipe_local.moto_backend import persistence
from tests.support.aws_setup import LAMBDA_ASSUME_ROLE
from tests.support.local_aws_process import local_aws_server
from tests.support.local_stack import PROBE_FUNCTIONS, create_streamed_table, wait_until, zip_folder

LAMBDAPIPE = Path(sys.executable).parent / "lambdapipe"
# How long a check for something that must not happen (a save, a redelivery) watches.
QUIET_WINDOW_S = persistence.SAVE_DELAY_S * 6
# No save for this long: the last change is on disk. Longer than the gap between two saves that took
# a second each on a loaded machine (the saver waits four times a save's time: persistence.SAVE_SHARE).
SAVED_AND_QUIET_S = 8.0


def _client(url: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _function(url: str, name: str, handler: str, **config: Any) -> None:
    role = _client(url, "iam").create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=LAMBDA_ASSUME_ROLE
    )
    _client(url, "lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler=handler,
        Code={"ZipFile": zip_folder(PROBE_FUNCTIONS / "python_probe")},
        **config,
    )


def _invoke(url: str, name: str, event: dict) -> Any:
    response = _client(url, "lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    assert "FunctionError" not in response, response
    return json.loads(response["Payload"].read())


def test_a_restarted_stack_has_every_resource_of_the_stopped_one_and_runs_its_functions(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with local_aws_server(state, persistent=True) as first:
        url = first.url
        _client(url, "s3").create_bucket(Bucket="kept")
        _client(url, "s3").put_object(Bucket="kept", Key="a/b.txt", Body=b"still here")
        dynamodb = _client(url, "dynamodb")
        create_streamed_table(dynamodb, "orders", "id")
        dynamodb.put_item(TableName="orders", Item={"id": {"S": "o-1"}, "total": {"N": "12.5"}})
        sqs = _client(url, "sqs")
        queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        sqs.send_message(QueueUrl=queue_url, MessageBody="before the restart")
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
        topic_arn = _client(url, "sns").create_topic(Name="alerts")["TopicArn"]
        _client(url, "sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["QueueArn"])
        _function(url, "echo", "probe.echo")
        version = _client(url, "lambda").publish_version(FunctionName="echo")["Version"]
        _client(url, "lambda").create_alias(FunctionName="echo", Name="live", FunctionVersion=version)
        _invoke(url, "echo:live", {"n": 1})  # writes the function's log group

    with local_aws_server(state, persistent=True) as second:
        url = second.url
        _client(url, "s3").create_bucket(Bucket="kept")  # as an idempotent set-up script does at each start
        body = _client(url, "s3").get_object(Bucket="kept", Key="a/b.txt")["Body"].read()
        item = _client(url, "dynamodb").get_item(TableName="orders", Key={"id": {"S": "o-1"}})["Item"]
        sqs = _client(url, "sqs")
        queue_url = sqs.get_queue_url(QueueName="inbox")["QueueUrl"]
        _client(url, "sns").publish(TopicArn=topic_arn, Message="after the restart")
        bodies = _drain(sqs, queue_url, expected=2)
        alias = _client(url, "lambda").get_alias(FunctionName="echo", Name="live")
        echoed = _invoke(url, "echo:live", {"n": 2})
        log_groups = _client(url, "logs").describe_log_groups()["logGroups"]

    assert body == b"still here"
    assert item["total"] == {"N": "12.5"}
    assert bodies[0] == "before the restart"
    assert json.loads(bodies[1])["Message"] == "after the restart", "the SNS subscription survived too"
    assert alias["FunctionVersion"] == version
    assert echoed == {"n": 2}, "the restored function's code runs"
    assert "/aws/lambda/echo" in {group["logGroupName"] for group in log_groups}


def _drain(sqs: Any, queue_url: str, expected: int) -> list[str]:
    bodies: list[str] = []
    deadline = time.monotonic() + 20
    while len(bodies) < expected and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_a_stack_killed_with_sigkill_keeps_what_it_had_saved(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with local_aws_server(state, persistent=True) as first:
        _client(first.url, "s3").create_bucket(Bucket="survives-kill")
        _client(first.url, "s3").put_object(Bucket="survives-kill", Key="k", Body=b"v")
        _wait_until_saved_and_quiet(state)
        server = psutil.Process(first.server_pid)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)

    with local_aws_server(state, persistent=True) as second:
        body = _client(second.url, "s3").get_object(Bucket="survives-kill", Key="k")["Body"].read()

    assert body == b"v"


def test_a_stream_mapping_resumes_after_a_restart_without_redelivering_handled_records(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    with local_aws_server(state, persistent=True) as first:
        url = first.url
        _client(url, "s3").create_bucket(Bucket="deliveries")
        stream_arn = create_streamed_table(_client(url, "dynamodb"), "changes", "id")
        _function(url, "recorder", "probe.record", Environment={"Variables": {"RECORD_BUCKET": "deliveries"}})
        _client(url, "lambda").create_event_source_mapping(
            EventSourceArn=stream_arn, FunctionName="recorder", StartingPosition="TRIM_HORIZON"
        )
        _client(url, "dynamodb").put_item(TableName="changes", Item={"id": {"S": "before"}})
        wait_until(lambda: _delivered_keys(url) == ["before"], what="the first record's delivery")

    with local_aws_server(state, persistent=True) as second:
        _client(second.url, "dynamodb").put_item(TableName="changes", Item={"id": {"S": "after"}})
        wait_until(
            lambda: "after" in _delivered_keys(second.url), what="the record written after the restart"
        )
        saved_at = _wait_until_saved_and_quiet(state)
        time.sleep(QUIET_WINDOW_S)  # room for a wrong redelivery of "before" to show
        delivered = _delivered_keys(second.url)
        quiet_since = persistence.state_file(state).stat().st_mtime

    assert delivered == ["after", "before"], "each record once: the shard checkpoint survived the restart"
    assert quiet_since == saved_at, "the idle poller's GetRecords calls are reads: nothing was saved"


def _wait_until_saved_and_quiet(state_dir: Path) -> float:
    """The state file's time once no save has replaced it for SAVED_AND_QUIET_S: the saver writes
    after any change, so the last change is on disk (a save may already have happened before this is
    called, so waiting for a newer one could wait forever)."""
    path = persistence.state_file(state_dir)
    wait_until(
        lambda: time.time() - path.stat().st_mtime > SAVED_AND_QUIET_S,
        timeout_s=60,
        what=f"{path} saved and quiet",
    )
    return path.stat().st_mtime


def _delivered_keys(url: str) -> list[str]:
    """The item keys the recorder function received, one entry per delivery, sorted."""
    s3 = _client(url, "s3")
    keys = []
    for listed in s3.list_objects_v2(Bucket="deliveries", Prefix="events/").get("Contents", []):
        event = json.loads(s3.get_object(Bucket="deliveries", Key=listed["Key"])["Body"].read())
        keys += [record["dynamodb"]["Keys"]["id"]["S"] for record in event["Records"]]
    return sorted(keys)


def test_an_ephemeral_stack_neither_loads_nor_saves_state(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with local_aws_server(state, persistent=True) as saved:
        _client(saved.url, "s3").create_bucket(Bucket="from-the-saved-run")
    saved_bytes = persistence.state_file(state).read_bytes()

    with local_aws_server(state) as ephemeral:
        buckets = _client(ephemeral.url, "s3").list_buckets()["Buckets"]
        _client(ephemeral.url, "s3").create_bucket(Bucket="never-saved")
        time.sleep(QUIET_WINDOW_S)

    assert buckets == []
    assert persistence.state_file(state).read_bytes() == saved_bytes


def test_reset_forgets_the_saved_state_but_refuses_while_a_stack_uses_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with local_aws_server(state, persistent=True) as running:
        _client(running.url, "s3").create_bucket(Bucket="to-forget")
        pid = running.server_pid
        refused = _lambdapipe_local("reset", "--state-dir", str(state))
        second_server = _lambdapipe_local("--port", "0", "--state-dir", str(state))
    reset = _lambdapipe_local("reset", "--state-dir", str(state))
    with local_aws_server(state, persistent=True) as restarted:
        buckets = _client(restarted.url, "s3").list_buckets()["Buckets"]

    assert (refused.returncode, refused.stderr.strip()) == (
        2,
        f"lambdapipe local reset: another lambdapipe local (pid {pid}) is using {state}: stop it first",
    )
    assert second_server.returncode == 2 and f"(pid {pid}) is using {state}" in second_server.stderr
    assert (reset.returncode, reset.stdout.strip()) == (
        0,
        f"lambdapipe local reset: deleted the saved AWS state in {state}",
    )
    assert buckets == []


def test_state_saved_by_another_moto_version_is_refused_in_one_line_naming_the_reset(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    saved = {"format": persistence.FORMAT, "moto": "0.0.1", "backends": {}}
    persistence.state_file(state).write_bytes(pickle.dumps(saved))

    result = _lambdapipe_local("--port", "0", "--state-dir", str(state))

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert "written by moto 0.0.1" in line
    assert f"`lambdapipe local reset --state-dir {state}` starts afresh" in line


def _lambdapipe_local(*args: str) -> subprocess.CompletedProcess[str]:
    """A `lambdapipe local` call expected to end by itself (a refusal or a reset)."""
    return subprocess.run([str(LAMBDAPIPE), "local", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("method", "operation", "changes"),
    [
        ("POST", "PutItem", True),
        ("PUT", "PutObject", True),
        ("POST", "unknown", True),
        ("POST", "GetRecords", False),
        ("POST", "ReceiveMessage", False),
        ("POST", "Query", False),
        ("GET", "ListObjectsV2", False),
    ],
)
def test_only_requests_that_may_change_state_trigger_a_save(
    method: str, operation: str, changes: bool
) -> None:
    assert changes_state(method, operation) is changes
