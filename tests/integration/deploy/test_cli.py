"""``lambdapipe deploy`` and ``lambdapipe invoke`` in a subprocess, reaching the stack through AWS_ENDPOINT_URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from lambdapipe.deploy.deployer import DeployResult
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
