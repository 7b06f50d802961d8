"""Deploy every function folder in lambda_functions/, in parallel, and mark an Asset per function.

Trigger it by hand (or from CI with ``airflow dags trigger deploy_lambda_functions``). Each task is
idempotent: a rerun with nothing changed makes no write call and leaves the alias where it is.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from airflow.sdk import dag

from lambdapipe.assets import lambda_function_asset
from lambdapipe.operators.lambda_function import LambdaDeployFunctionOperator

FUNCTIONS_DIR = Path(
    os.environ.get("LAMBDAPIPE_FUNCTIONS_DIR", Path(__file__).resolve().parents[1] / "lambda_functions")
)


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
            task_id=f"deploy_{folder.name}",
            function_dir=str(folder),
            outlets=[lambda_function_asset(folder.name)],
        )


deploy_lambda_functions()
