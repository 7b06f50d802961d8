"""Owner processes for the no-orphans tests, run as ``python -m tests.e2e.processes.owners KIND MARK``.

Each starts children the way the project does, prints ``ready`` once they run, then waits to be
killed. ``MARK`` is a unique string the children carry on their command line (or in a path on it),
so the test can look for survivors by command line as well as by PID.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def spawned_tree(mark: str) -> None:
    """A program through ``spawn`` that starts a child of its own and a daemon that leaves its parent."""
    from lambdapipe.utils.child_processes import spawn
    from tests.e2e.processes.helpers import sleeper

    program = (
        "import subprocess, sys;"
        "child = subprocess.Popen(sys.argv[1:]);"
        "subprocess.Popen(sys.argv[1:], start_new_session=True);"
        "child.wait()"
    )
    process = spawn([sys.executable, "-c", program, *sleeper(mark, 300)])
    wait_for_children(process.pid, 3)  # the program, its child, the daemon in a session of its own


def local_stack(mark: str) -> None:
    """The test suite's in-process local stack with a warm Python runtime, as ``local_aws_server``."""
    from lambdapipe_local import LocalAws
    from tests.support.aws_setup import LAMBDA_ASSUME_ROLE
    from tests.support.local_stack import PROBE_FUNCTIONS, zip_folder

    aws = LocalAws(idle_timeout_s=600).start()
    role = aws.client("iam").create_role(RoleName=mark, AssumeRolePolicyDocument=LAMBDA_ASSUME_ROLE)
    client = aws.client("lambda")
    client.create_function(
        FunctionName=mark,
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="probe.echo",
        Code={"ZipFile": zip_folder(PROBE_FUNCTIONS / "python_probe")},
    )
    client.invoke(FunctionName=mark, Payload=json.dumps({}).encode())
    assert aws.runtime_stats()["environments_idle"] >= 1, aws.runtime_stats()


def wait_for_children(pid: int, count: int) -> None:
    from lambdapipe.utils.tether import descendants

    deadline = time.monotonic() + 30
    while len(descendants(pid)) < count:
        if time.monotonic() > deadline:
            sys.exit(f"fewer than {count} processes below {pid}")
        time.sleep(0.05)


KINDS = {"spawned_tree": spawned_tree, "local_stack": local_stack}

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
    kind, mark = sys.argv[1:]
    KINDS[kind](mark)
    print("ready", flush=True)
    time.sleep(600)
