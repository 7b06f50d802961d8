"""Run DAGs with ``dag.test()`` in the session's throwaway metadata DB and read back what they left.

``dag.test()`` in Airflow 3.3 only runs DAGs the DB knows: those in the dags-folder bundle are
synced by ``dag.test()`` itself; a DAG built inside a test is registered first, as the dag-processor
would (``register``). Deferred tasks run their trigger inline.
"""

from __future__ import annotations

from typing import Any

from airflow.models.dagrun import DagRun
from airflow.sdk import DAG
from sqlalchemy import func, select

DEPLOY_TRIGGER = "lambdapipe.triggers.lambda_function.LambdaFunctionUpdatedTrigger"
TRAFFIC_STEP_TRIGGER = "lambdapipe.triggers.lambda_function.LambdaTrafficStepTrigger"


def register(dag: DAG) -> None:
    """Write ``dag`` to the metadata DB under the dags-folder bundle, as parsing its file would."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    DagBundlesManager().sync_bundles_to_db()
    with create_session() as session:
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
        )


def task_states(run: DagRun) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.state).where(
                TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id
            )
        )
        return {task_id: str(state) for task_id, state in rows}


def xcom_return_values(run: DagRun) -> dict[str, Any]:
    """Each task's ``return_value`` XCom in ``run``."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == run.dag_id,
                XComModel.run_id == run.run_id,
                XComModel.key == "return_value",
            )
        )
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}


def asset_events(run: DagRun) -> list[str]:
    """Names of the assets ``run`` updated, sorted."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return sorted(
            session.scalars(
                select(AssetModel.name)
                .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
                .where(AssetEvent.source_dag_id == run.dag_id, AssetEvent.source_run_id == run.run_id)
            )
        )


def deploy_triggers_created(classpath: str = DEPLOY_TRIGGER) -> int:
    """How many deploy triggers (of ``classpath``) were ever created: ``dag.test()`` leaves every
    Trigger row behind."""
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.scalar(select(func.count()).select_from(Trigger).where(Trigger.classpath == classpath))
