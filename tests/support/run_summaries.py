"""What a pipeline run whose first task failed leaves behind: its task states and its one summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def states_after_the_first_task_failed(tasks: Sequence[str]) -> dict[str, str]:
    """Every later task upstream_failed, except the summary's two: they run however the run ended."""
    return dict.fromkeys(tasks, "upstream_failed") | {
        tasks[0]: "failed",
        "summary_message": "success",
        "notify_summary": "success",
    }


def failed_run_summary(run_id: str, failed_task: str, recorded_by: str) -> dict[str, Any]:
    """The message ``summary_message`` sends for a run whose ``recorded_by`` task never succeeded."""
    return {
        "run_id": run_id,
        "status": "failed",
        "failed_tasks": [failed_task],
        "reason": f"{recorded_by} did not succeed: the failed tasks' logs say why",
    }
