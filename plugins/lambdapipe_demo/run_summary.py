"""One summary per DAG run, also when the run fails: the record task's outcome, or what went wrong.

Whoever reads the notifications topic (and the chaos checker) counts runs by their summaries: a run
that ends without one looks like a run that never happened, and its uploads or orders like lost ones.
"""

from __future__ import annotations

from typing import Any


def summary_message(context: Any, recorded_by: str) -> dict[str, Any]:
    """``recorded_by``'s return value if that task succeeded in this try of the run; otherwise a
    ``status: failed`` summary naming the run's failed tasks (the task runs with trigger rule
    ``all_done``). Its state decides, not its XCom: a cleared run keeps the XCom of an earlier try."""
    ti = context["ti"]
    states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id]).get(ti.run_id, {})
    if states.get(recorded_by) == "success":
        return ti.xcom_pull(task_ids=recorded_by, map_indexes=-1)
    return {
        "run_id": ti.run_id,
        "status": "failed",
        "failed_tasks": sorted(task_id for task_id, state in states.items() if state == "failed"),
        "reason": f"{recorded_by} did not succeed: the failed tasks' logs say why",
    }
