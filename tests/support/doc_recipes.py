"""Running the docs' shell recipes as a reader would: in a new shell, in a folder laid out like the
repository, with only what the recipe sources (``.airflow/env.sh`` a stack wrote)."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.local_aws_process import local_aws_process

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
sys.path.insert(0, str(REPO / "scripts"))
import devstack  # noqa: E402  (a script, not a package)

CODE_BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
# What `make run` has done before a reader gets to the recipes: the metadata DB, the demo's AWS
# resources, the functions the recipes run deployed, the DAGs parsed. No scheduler: the recipes
# pause their DAGs anyway.
MAKE_RUN_SET_UP = """
source .airflow/env.sh
airflow db migrate > /dev/null
python include/demo_infrastructure.py --no-deploy > /dev/null
lambdapipe deploy lambda_functions/image_resize --no-smoke-test > /dev/null
lambdapipe deploy lambda_functions/order_transform --no-smoke-test > /dev/null
airflow dags reserialize > /dev/null 2>&1
"""
TASK_STATE_LINE = re.compile(r"^(\w+): (\w+) \(log: (\S+)\)$", re.MULTILINE)


def blocks(path: Path, language: str) -> list[str]:
    return [code for lang, code in CODE_BLOCK.findall(path.read_text()) if lang == language]


def recipe(page: str, marker: str) -> str:
    """The one shell block of ``docs/<page>`` that contains ``marker``."""
    [found] = [block for block in blocks(DOCS / page, "bash") if marker in block]
    return found


def new_shell_beside(aws_url: str, folder: Path) -> dict[str, Any]:
    """subprocess.run arguments for bash in ``folder``, laid out like the repository, whose
    .airflow/env.sh a stack on ``aws_url`` wrote; none of this process's Airflow or AWS settings.

    The local AWS runs in its own process: an in-process one shares moto's state with the other
    stacks of this test worker, and what a recipe leaves there (a warehouse's owner) breaks them."""
    settings = devstack.Settings(home=folder / ".airflow", aws_port=int(aws_url.rsplit(":", 1)[1]))
    settings.home.mkdir()
    devstack.write_shell_environment(settings, devstack.stack_environment(settings))
    return {"cwd": folder, "env": reader_environment(), "capture_output": True, "text": True, "timeout": 600}


def reader_environment() -> dict[str, str]:
    """A reader's shell: this process's environment without its Airflow, AWS and lambdapipe settings."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith(devstack.FOREIGN_PREFIXES)}
    clean.pop("AIRFLOW_HOME", None)
    return clean


@contextlib.contextmanager
def made_run(folder: Path) -> Iterator[dict[str, Any]]:
    """subprocess.run arguments for a new shell in ``folder``, laid out like the repository, after
    what `make run` does before a reader gets to the `airflow tasks test` recipes."""
    for name in (".venv", "include", "lambda_functions"):
        (folder / name).symlink_to(REPO / name)
    with local_aws_process(folder / "local-aws") as aws_url:
        shell = new_shell_beside(aws_url, folder)
        set_up = subprocess.run(["bash", "-e", "-c", MAKE_RUN_SET_UP], **shell)
        assert set_up.returncode == 0, set_up.stderr[-3000:]
        yield shell


def run_recipe(text: str, shell: dict[str, Any]) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    """Run it; the task states it printed, and the logs it wrote to /tmp (removed, once read)."""
    result = subprocess.run(["bash", "-c", text], **shell)
    logs = {}
    for task, _, log in TASK_STATE_LINE.findall(result.stdout):
        logs[task] = Path(log).read_text() if Path(log).exists() else ""
        Path(log).unlink(missing_ok=True)
    return result, logs


def task_states(result: subprocess.CompletedProcess) -> list[tuple[str, str]]:
    return [(task, state) for task, state, _ in TASK_STATE_LINE.findall(result.stdout)]
