"""`lambdapipe local` as a separate server process, driven by the AWS CLI like any AWS endpoint."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdapipe.utils.child_processes import spawn
from lambdapipe_local.admin.admin_client import LocalAwsAdmin
from tests.support.aws_setup import LAMBDA_ASSUME_ROLE
from tests.support.local_stack import PROBE_FUNCTIONS, zip_folder

VENV_BIN = Path(sys.executable).parent
KEY_ID, SECRET = "cli-key", "cli-secret"  # the server checks signatures: only these (and its own) pass


def _processes_under(directory: Path) -> list[int]:
    """PIDs whose working directory lies inside ``directory`` (the runtime processes of a server)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if Path(os.readlink(proc / "cwd")).is_relative_to(directory):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[dict]:
    state_dir = tmp_path_factory.mktemp("state")
    process = spawn(
        [
            *(str(VENV_BIN / "lambdapipe"), "local", "--port", "0", "--state-dir", str(state_dir)),
            *("--check-signatures", "--credentials", f"{KEY_ID}:{SECRET}"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "LAMBDAPIPE_NODE_SDK_DIR": os.environ.get("LAMBDAPIPE_NODE_SDK_DIR", "")},
    )
    banner = [process.stdout.readline() for _ in range(7)]
    endpoint = banner[0].rsplit(" ", 1)[-1].strip()
    info = {"process": process, "endpoint": endpoint, "banner": banner, "state_dir": state_dir}
    yield info
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def cli_env(server, tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "AWS_ENDPOINT_URL": server["endpoint"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
    }


def aws_cli(env: dict[str, str], *args: str) -> dict:
    result = subprocess.run(
        [str(VENV_BIN / "aws"), *args, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_banner_names_the_endpoint_where_the_state_is_kept_and_the_variables_to_export(server):
    assert server["endpoint"].startswith("http://127.0.0.1:")
    banner = "".join(server["banner"])
    assert f"AWS state: {server['state_dir']}\n" in banner
    assert f"export AWS_ENDPOINT_URL={server['endpoint']}" in banner
    assert "export AWS_DEFAULT_REGION=us-east-1" in banner
    assert (
        f"export AWS_ACCESS_KEY_ID={KEY_ID}" in banner and f"export AWS_SECRET_ACCESS_KEY={SECRET}" in banner
    )
    assert LocalAwsAdmin(server["endpoint"]).health() == {"status": "ok"}


@pytest.mark.parametrize(
    ("name", "runtime", "handler", "folder"),
    [
        ("cli-python", "python3.11", "probe.counter", "python_probe"),
        ("cli-node", "nodejs20.x", "index.counter", "node_probe"),
    ],
)
def test_aws_cli_creates_and_invokes_a_function(server, cli_env, tmp_path, name, runtime, handler, folder):
    zip_path = tmp_path / "code.zip"
    zip_path.write_bytes(zip_folder(PROBE_FUNCTIONS / folder))
    role = aws_cli(
        cli_env,
        "iam",
        "create-role",
        "--role-name",
        f"{name}-role",
        "--assume-role-policy-document",
        LAMBDA_ASSUME_ROLE,
    )["Role"]["Arn"]
    created = aws_cli(
        cli_env,
        "lambda",
        "create-function",
        "--function-name",
        name,
        "--runtime",
        runtime,
        "--handler",
        handler,
        "--role",
        role,
        "--zip-file",
        f"fileb://{zip_path}",
    )
    assert created["FunctionName"] == name
    outputs = []
    for attempt in range(2):
        out = tmp_path / f"out-{attempt}.json"
        meta = aws_cli(
            cli_env,
            "lambda",
            "invoke",
            "--function-name",
            name,
            "--log-type",
            "Tail",
            "--payload",
            "{}",
            str(out),
        )
        assert meta["StatusCode"] == 200
        assert "FunctionError" not in meta
        outputs.append((json.loads(out.read_text()), base64.b64decode(meta["LogResult"]).decode()))
    (first, first_log), (second, second_log) = outputs
    assert [first["invocations"], second["invocations"]] == [1, 2]
    assert "Init Duration" in first_log
    assert "REPORT RequestId:" in second_log
    groups = aws_cli(cli_env, "logs", "describe-log-groups")["logGroups"]
    assert f"/aws/lambda/{name}" in [group["logGroupName"] for group in groups]


def test_sigterm_stops_the_server_and_every_runtime_process(server, cli_env):
    assert _processes_under(server["state_dir"]), "the invocations above should have left warm environments"
    server["process"].send_signal(signal.SIGTERM)
    assert server["process"].wait(timeout=30) == 0
    assert _processes_under(server["state_dir"]) == []


def test_python_dash_m_entry_point_prints_usage():
    result = subprocess.run(
        [sys.executable, "-m", "lambdapipe_local", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert "--port" in result.stdout
    assert "--state-dir" in result.stdout
