"""Shared test set-up: every test (and every subprocess it starts) uses a throwaway AIRFLOW_HOME.

The environment is set when pytest imports this file, before any test module imports Airflow:
Airflow reads its configuration once, at import, and would otherwise create airflow.cfg and a
metadata database in ~/airflow or in the developer's .airflow/.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="lambdapipe-test-airflow-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
)


def pytest_sessionfinish(session: pytest.Session) -> None:
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout the tests run against."""
    return REPO_ROOT
