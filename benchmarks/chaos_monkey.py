"""The chaos run's process killer: SIGKILLs parts of a running stack at seeded random moments.

Kinds: ``task_mid_fanout`` (the task process of a running ``LambdaMapOperator``, worker mode),
``triggerer_mid_fanout`` (the triggerer while a deferred fan-out runs in it), ``triggerer``
(the triggerer while it watches the orders stream and the upload queue), ``scheduler`` and
``celery_worker``. A killed component is started again at once (as a supervisor such as systemd
would); a killed task process is left to Airflow (the task fails and is retried). Only processes of
this stack are ever killed, by PID: a task process is killed only if it descends from a component.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psutil

from lambdapipe.utils.tether import descendants

MAP_TASKS = ("resize_images", "transform_orders")
PIPELINES = ("s3_upload_processing", "order_analytics")
MID_FANOUT_AFTER_S = 1.0  # a map task running this long is mid fan-out


@dataclass
class Kill:
    kind: str
    at_s: float
    target: str


@dataclass
class ChaosMonkey:
    """Kills each of ``kinds`` ``per_kind`` times, one kill every ``interval_s`` (seeded jitter).

    A kind that finds no target (no fan-out running yet) is tried again at a later turn.
    """

    stack: Any  # devstack.Stack
    api: Any  # airflow_api.AirflowApi
    kinds: list[str]
    seed: int
    interval_s: tuple[float, float] = (15.0, 45.0)
    per_kind: int = 2
    kills: list[Kill] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        self._started = time.monotonic()
        thread = threading.Thread(target=self._run, name="chaos-monkey", daemon=True)
        thread.start()
        self._thread = thread
        return thread

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def counts(self) -> Counter:
        return Counter(kill.kind for kill in self.kills)

    def _run(self) -> None:
        rng = random.Random(self.seed)
        remaining = Counter(dict.fromkeys(self.kinds, self.per_kind))
        while remaining and not self._stop.wait(rng.uniform(*self.interval_s)):
            pending = sorted(remaining)
            rng.shuffle(pending)
            for kind in pending:
                if self._kill(kind):
                    remaining[kind] -= 1
                    if not remaining[kind]:
                        del remaining[kind]
                    break

    def _kill(self, kind: str) -> bool:
        try:
            target = getattr(self, f"_kill_{kind}")()
        except Exception as error:  # a kill that fails is reported and skipped, never fatal
            print(f"chaos: could not kill ({kind}): {type(error).__name__}: {error}", flush=True)
            return False
        if target is None:  # no target right now (no fan-out running)
            return False
        self.kills.append(Kill(kind, round(time.monotonic() - self._started, 1), target))
        print(f"chaos: killed {target} ({kind})", flush=True)
        return True

    def _kill_task_mid_fanout(self) -> str | None:
        for task in self._map_tasks("running"):
            if task["pid"] and self._is_ours(task["pid"]):
                os.kill(task["pid"], signal.SIGKILL)
                return f"task {task['task_id']} pid {task['pid']}"
        return None

    def _kill_triggerer_mid_fanout(self) -> str | None:
        if not self._map_tasks("deferred"):
            return None
        return self._restart("triggerer")

    def _kill_triggerer(self) -> str | None:
        return self._restart("triggerer")

    def _kill_scheduler(self) -> str | None:
        return self._restart("scheduler")

    def _kill_celery_worker(self) -> str | None:
        return self._restart("worker-1")

    def _map_tasks(self, state: str) -> list[dict[str, Any]]:
        """Map task instances in ``state`` for at least MID_FANOUT_AFTER_S."""
        now = datetime.now(UTC)
        found = []
        for dag_id in PIPELINES:
            listed = self.api.get(f"/dags/{dag_id}/dagRuns/~/taskInstances?state={state}&limit=100")
            for task in listed["task_instances"]:
                started = task.get("start_date")
                running_s = (now - datetime.fromisoformat(started)).total_seconds() if started else 0
                if task["task_id"] in MAP_TASKS and running_s >= MID_FANOUT_AFTER_S:
                    found.append(task)
        return found

    def _restart(self, name: str) -> str | None:
        """SIGKILL a component's program and all it started (as a crash of its machine would), then start it again.

        Not the process group: ``component.process`` is the program's tether, alone in its group, and
        the program the tether's death reaches is asked to stop (SIGTERM), not killed.
        """
        component = next((c for c in reversed(self.stack.components) if c.name == name), None)
        if component is None or component.process is None or component.process.poll() is not None:
            return None
        for pid in descendants(component.process.pid):  # the tether reaps them, then exits as its program
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        component.process.wait()
        self.stack.components.remove(component)  # reaped: the stack tracks its successor instead
        self.stack.launch(type(component)(component.name, list(component.argv), component.health_url))
        return f"{name} pid {component.process.pid}"

    def _is_ours(self, pid: int) -> bool:
        """Whether ``pid`` descends from one of this stack's components."""
        roots = {c.process.pid for c in self.stack.components if c.process and c.process.poll() is None}
        try:
            return any(parent.pid in roots for parent in psutil.Process(pid).parents())
        except psutil.Error:
            return False
