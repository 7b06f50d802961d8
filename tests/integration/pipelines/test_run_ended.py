"""``upload_run.run_ended`` asks Airflow itself, from inside a task, whether another run is over: how a
reconcile run knows the claims a failed run still holds are abandoned."""

from __future__ import annotations

from typing import Any

from airflow.sdk import DAG, task

from lambdapipe_demo.upload_run import run_ended
from tests.support.dag_runs import register, task_states, xcom_return_values

DAG_ID = "run_ended_probe"


def test_a_task_learns_that_a_failed_run_is_over_and_that_its_own_run_and_an_unknown_one_are_not(
    airflow_db: None,
) -> None:
    with DAG(DAG_ID, schedule=None, params={"fail": False, "ask": []}) as dag:

        @task
        def probe(params: Any = None, ti: Any = None) -> dict[str, bool]:
            if params["fail"]:
                raise RuntimeError("this run fails, as one whose task ran out of retries")
            return {run_id: run_ended(ti, DAG_ID, run_id) for run_id in [*params["ask"], ti.run_id]}

        probe()
    register(dag)
    failed = dag.test(run_conf={"fail": True})
    assert task_states(failed) == {"probe": "failed"}

    asking = dag.test(run_conf={"fail": False, "ask": [failed.run_id, "no_such_run"]})

    assert xcom_return_values(asking)["probe"] == {
        failed.run_id: True,
        "no_such_run": False,
        asking.run_id: False,
    }
