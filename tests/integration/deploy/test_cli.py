"""``lambdapipe deploy`` and ``lambdapipe invoke`` in a subprocess, reaching the stack through AWS_ENDPOINT_URL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapipe.deploy.deployer import DeployResult
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.faults import FaultRule
from tests.support.deploy_folders import copy_function, replace_in_file
from tests.support.shipped_functions import FUNCTIONS_DIR

LAMBDAPIPE = str(Path(sys.executable).parent / "lambdapipe")


def lambdapipe(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAMBDAPIPE, *map(str, args)], env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


def test_deploy_prints_the_result_as_json_and_a_rerun_reports_no_change(
    aws_environment: dict[str, str],
) -> None:
    first = lambdapipe("deploy", FUNCTIONS_DIR / "hello_node", env=aws_environment)
    second = lambdapipe("deploy", FUNCTIONS_DIR / "hello_node", "--alias", "live", env=aws_environment)

    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    assert (created["function_name"], created["version"], created["changed"]) == ("hello_node", "1", True)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout) == {**created, "changed": False, "smoke_tests": []}


def test_invoke_prints_the_payload_and_exits_1_when_the_function_fails(
    aws_environment: dict[str, str], deploy: Callable[..., DeployResult]
) -> None:
    folder = FUNCTIONS_DIR / "order_transform"
    deploy(folder, smoke_test=False)

    passed = lambdapipe(
        "invoke",
        "order_transform:live",
        "--event",
        folder / "events" / "valid-batch.json",
        env=aws_environment,
    )
    failed = lambdapipe(
        "invoke", "order_transform", "--qualifier", "live", "--event", '{"records": []}', env=aws_environment
    )

    assert passed.returncode == 0, passed.stderr
    assert len(json.loads(passed.stdout)["valid"]) > 0
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["errorType"] == "ValueError"
    assert "lambdapipe invoke: order_transform failed: ValueError" in failed.stderr


def test_deploy_of_a_bad_manifest_names_file_and_field_and_exits_1(
    aws_environment: dict[str, str], tmp_path: Path
) -> None:
    folder = copy_function("hello_world", tmp_path / "broken")
    replace_in_file(folder / "function.toml", "memory = 128", "memory = 64")

    result = lambdapipe("deploy", folder, env=aws_environment)

    assert result.returncode == 1
    assert (
        f"lambdapipe deploy: {folder / 'function.toml'}: memory: must be between 128 and 10240 MB (got 64)"
        in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_invoke_of_a_missing_function_or_version_says_which_in_one_line(
    aws_environment: dict[str, str], deploy: Callable[..., DeployResult]
) -> None:
    deploy(FUNCTIONS_DIR / "hello_world", smoke_test=False)

    no_function = lambdapipe("invoke", "no_such_function", env=aws_environment)
    no_version = lambdapipe("invoke", "hello_world", "--qualifier", "nope", env=aws_environment)

    assert (no_function.returncode, no_version.returncode) == (1, 1)
    assert no_function.stderr.splitlines() == [
        "lambdapipe invoke: Lambda function no_such_function does not exist (region us-east-1)"
    ]
    assert no_version.stderr.splitlines() == [
        "lambdapipe invoke: Lambda function hello_world has no version or alias nope (region us-east-1)"
    ]


def test_invoke_tells_a_missing_event_file_from_a_file_that_is_not_json(tmp_path: Path) -> None:
    not_json = tmp_path / "broken.json"
    not_json.write_text("{broken")

    missing = lambdapipe("invoke", "hello_world", "--event", tmp_path / "missing.json", env={})
    unreadable = lambdapipe("invoke", "hello_world", "--event", not_json, env={})
    inline = lambdapipe("invoke", "hello_world", "--event", "{'single': 'quotes'}", env={})

    assert (missing.returncode, unreadable.returncode, inline.returncode) == (2, 2, 2)
    assert f"--event {tmp_path / 'missing.json'}: no such file" in missing.stderr
    assert f"--event {not_json}: not valid JSON: Expecting property name" in unreadable.stderr
    assert "line 1 column 2" in unreadable.stderr
    assert "--event: neither a file nor valid JSON: Expecting property name" in inline.stderr


def test_invoke_with_no_stack_listening_names_the_endpoint_in_one_line(
    aws_environment: dict[str, str],
) -> None:
    nothing_there = {**aws_environment, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}

    result = lambdapipe("invoke", "hello_world", env=nothing_there)

    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(
        'lambdapipe invoke: cannot reach AWS: Could not connect to the endpoint URL: "http://127.0.0.1:9/'
    )


def test_deploy_and_invoke_are_quiet_by_default_and_verbose_with_v(
    aws_environment: dict[str, str],
) -> None:
    folder = FUNCTIONS_DIR / "hello_world"
    event = folder / "events" / "empty.json"

    deployed = lambdapipe("deploy", folder, "--no-smoke-test", env=aws_environment)
    invoked = lambdapipe("invoke", "hello_world", "--event", event, env=aws_environment)
    verbose = lambdapipe("invoke", "hello_world", "--event", event, "-v", env=aws_environment)

    assert deployed.returncode == invoked.returncode == verbose.returncode == 0
    # The deploy's own progress, one plain line per step; no library chatter, no log decoration.
    assert deployed.stderr.splitlines()[-1] == "hello_world: alias live -> version 1"
    assert all(line.startswith(("Built hello_world", "hello_world")) for line in deployed.stderr.splitlines())
    assert invoked.stderr == ""
    assert "No connection ID provided" in verbose.stderr  # the Amazon provider's INFO line
    assert json.loads(invoked.stdout) == json.loads(verbose.stdout)


def test_deploy_shows_each_traffic_step_and_a_rolled_back_canary_exits_1_naming_the_error_rate(
    aws_environment: dict[str, str], tmp_path: Path
) -> None:
    folder = copy_function("hello_world", tmp_path / "canaried")
    canary = '--set=deployment={"steps": [{"percent": 50, "seconds": 1}], "min_invocations": 1}'
    assert lambdapipe("deploy", folder, env=aws_environment).returncode == 0
    replace_in_file(folder / "app.py", "Hello, AWS Lambda!", "Hello from the canary!")

    # Nothing invokes the alias during the step: min_invocations 1 is breached by 0 invocations.
    stopped = lambdapipe("deploy", folder, canary, env=aws_environment)
    # The same version again, all at once: the one-deploy override a hotfix takes.
    forced = lambdapipe("deploy", folder, "--set", "deployment=AllAtOnce", env=aws_environment)

    assert stopped.returncode == 1, stopped.stderr
    assert "canaried: alias live sends 50% to version 2" in stopped.stderr
    assert stopped.stderr.strip().splitlines()[-1] == (
        "lambdapipe deploy: canaried: version 2 rolled back, alias live is on version 1 again: at step 1 of 1 "
        "(50%): only 0 invocations, below min_invocations 1 (0 errors in 0 invocations, no durations)"
    )
    assert forced.returncode == 0, forced.stderr
    forced_result = json.loads(forced.stdout)
    assert forced_result["version"] == "2"
    assert [entry[: len("100% at ")] for entry in forced_result["deployment"]] == ["100% at "]


# What ``lambdapipe deploy ... &`` in a shell script gets: SIGINT ignored from the start (kept across exec).
STARTED_IN_THE_BACKGROUND = ["sh", "-c", 'trap "" INT; exec "$0" "$@"']


@pytest.mark.parametrize(
    ("stop_signal", "exit_code", "last_line", "raised"),
    [
        (signal.SIGINT, 130, "lambdapipe deploy: interrupted", "KeyboardInterrupt"),
        (signal.SIGTERM, 143, "lambdapipe deploy: terminated", "Terminated"),
    ],
    ids=["ctrl-c", "sigterm"],
)
def test_a_deploy_stopped_during_a_traffic_step_puts_the_alias_back_on_the_old_version(
    aws: LocalAws,
    aws_environment: dict[str, str],
    tmp_path: Path,
    stop_signal: signal.Signals,
    exit_code: int,
    last_line: str,
    raised: str,
) -> None:
    """Even started in the background (SIGINT inherited ignored): Ctrl-C and SIGTERM both roll back,
    and a second signal during the put-back does not stop it."""
    name = f"stopped_by_{stop_signal.name.lower()}"
    folder = copy_function("hello_world", tmp_path / name)
    assert lambdapipe("deploy", folder, env=aws_environment).returncode == 0
    replace_in_file(folder / "app.py", "Hello, AWS Lambda!", "Hello, interrupted!")
    slow_canary = '--set=deployment={"steps": [{"percent": 40, "seconds": 600}]}'
    deploying = subprocess.Popen(
        [*STARTED_IN_THE_BACKGROUND, LAMBDAPIPE, "deploy", str(folder), slow_canary],
        env={**os.environ, **aws_environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = aws.client("lambda")
    try:
        deadline = time.monotonic() + 120
        while not client.get_alias(FunctionName=name, Name="live").get("RoutingConfig"):
            assert deploying.poll() is None and time.monotonic() < deadline, deploying.communicate()
            time.sleep(0.2)
        # The put-back is slow, and the user impatient: a second signal must not cut it short.
        aws.faults.add(FaultRule(service="lambda", operation="UpdateAlias", latency_ms=3000))
        deploying.send_signal(stop_signal)
        time.sleep(1)
        deploying.send_signal(stop_signal)
        _, stderr = deploying.communicate(timeout=60)
    finally:
        aws.faults.clear()
        if deploying.poll() is None:
            deploying.kill()

    assert deploying.returncode == exit_code, stderr
    assert stderr.strip().splitlines()[-1] == last_line
    back = client.get_alias(FunctionName=name, Name="live")
    assert (back["FunctionVersion"], back.get("RoutingConfig", {}).get("AdditionalVersionWeights", {})) == (
        "1",
        {},
    )
    assert back["Description"].endswith(f"abandoned: the deploy stopped mid-step ({raised})")
