"""Which functions a user may see in the Lambda view: those a DAG they may read uses.

The view reads Lambda and CloudWatch Logs with the API server's credentials, which reach every
function of the account. Showing each user only the functions of DAGs they may read keeps the view
from being a window onto all of them for anyone with the Plugins view (a confused deputy).

A DAG uses a function when a task of its latest version names it in ``function_name`` (our Lambda
operators and the Amazon provider's) or deploys its folder (``function_dir``: the deploy DAG names a
function after its folder). A templated name is known only once rendered, so it does not count.
The serialized DAGs are read from the metadata DB; each version is parsed once and remembered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

from airflow.models.dag import DagModel
from airflow.models.serialized_dag import SerializedDagModel
from sqlalchemy import select

from lambdapipe.links import bare_function_name

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# Serialized DAG versions are immutable: their functions can be remembered by version id.
_functions_of_version: dict[str, frozenset[str]] = {}
_REMEMBERED_VERSIONS = 10_000


def task_functions(task: dict[str, Any]) -> set[str]:
    """The functions one serialized task names (none when the name is a template)."""
    names = set()
    function_name, function_dir = task.get("function_name"), task.get("function_dir")
    if isinstance(function_name, str) and function_name and "{{" not in function_name:
        names.add(bare_function_name(function_name))
    if isinstance(function_dir, str) and function_dir and "{{" not in function_dir:
        names.add(PurePath(function_dir).name)
    return names


def dag_functions(serialized: dict[str, Any]) -> frozenset[str]:
    """The functions the tasks of one serialized DAG name."""
    tasks = serialized.get("dag", {}).get("tasks", [])
    return frozenset(name for task in tasks for name in task_functions(task.get("__var", task)))


def functions_used_by(session: Session, dag_ids: Iterable[str]) -> dict[str, set[str]]:
    """``{function name: the DAG ids among dag_ids whose latest version uses it}``."""

    used: dict[str, set[str]] = {}
    for version in SerializedDagModel.get_latest_serialized_dags(dag_ids=list(dag_ids), session=session):
        key = str(version.id)
        if key not in _functions_of_version:
            if len(_functions_of_version) >= _REMEMBERED_VERSIONS:
                _functions_of_version.clear()
            _functions_of_version[key] = dag_functions(version.data or {})
        for name in _functions_of_version[key]:
            used.setdefault(name, set()).add(version.dag_id)
    return used


def visible_functions(session: Session, readable: Callable[[set[str]], set[str]]) -> dict[str, set[str]]:
    """The functions used by the DAGs ``readable`` lets through, with those DAGs."""

    dag_ids = set(session.scalars(select(DagModel.dag_id).where(DagModel.is_stale.is_(False))))
    return functions_used_by(session, readable(dag_ids) & dag_ids)
