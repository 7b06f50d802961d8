"""Deploy every function folder in lambda_functions/, in parallel, and mark an Asset per function.

Trigger it by hand (or from CI with ``airflow dags trigger deploy_lambda_functions``). Each task is
idempotent: a rerun with nothing changed makes no write call and leaves the alias where it is.
"""

from __future__ import annotations

import hashlib
import os
import re
from datetime import timedelta
from pathlib import Path

from airflow.sdk import dag

from lambdapipe.assets import lambda_function_asset
from lambdapipe.operators.lambda_function import LambdaDeployFunctionOperator

FUNCTIONS_DIR = Path(
    os.environ.get("LAMBDAPIPE_FUNCTIONS_DIR", Path(__file__).resolve().parents[1] / "lambda_functions")
)


FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # Lambda's names; all of them are task ids too


def deploy_task_id(folder: Path) -> str:
    """``deploy_<folder>``. A folder name no function may have is spelled safely instead (its deploy
    then fails on the manifest, naming the folder): one bad folder never breaks the whole DAG."""
    if FUNCTION_NAME.fullmatch(folder.name):
        return f"deploy_{folder.name}"
    readable = re.sub(r"[^A-Za-z0-9_-]", "_", folder.name)[:40]
    return f"deploy_{readable}_{hashlib.sha256(folder.name.encode()).hexdigest()[:8]}"


def function_folders(root: Path) -> list[Path]:
    """Folders with a function.toml; a directory listing only, so parsing stays cheap."""
    if not root.is_dir():
        return []
    return sorted(path.parent for path in root.glob("*/function.toml"))


@dag(
    dag_id="deploy_lambda_functions",
    description="Build, deploy, smoke-test and promote every function in lambda_functions/",
    schedule=None,
    catchup=False,
    tags=["lambdapipe", "deploy", "lambda"],
    default_args={"owner": "lambdapipe", "retries": 1, "retry_delay": timedelta(seconds=30)},
    max_active_runs=1,
    doc_md=__doc__,
)
def deploy_lambda_functions() -> None:
    for folder in function_folders(FUNCTIONS_DIR):
        LambdaDeployFunctionOperator(
            task_id=deploy_task_id(folder),
            function_dir=str(folder),
            outlets=[lambda_function_asset(folder.name)] if FUNCTION_NAME.fullmatch(folder.name) else [],
        )


deploy_lambda_functions()
