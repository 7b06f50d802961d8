"""One-shot, non-interactive demo: bring the stack up, check it, bring it down (``make demo``).

Uses the running stack if ``make run`` is up (and leaves it running); otherwise starts one and stops it
at the end. Each step is a function taking the REST client; later features append their steps.
Exits non-zero, naming the failed step, if anything is wrong.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import devstack
from airflow_api import AirflowApi

PARSE_TIMEOUT_SECONDS = 180.0


class DemoError(RuntimeError):
    """A demo step found the stack in a wrong state."""


def dag_files() -> set[str]:
    """DAG files Airflow will parse, relative to the DAGs folder (same discovery rules as Airflow)."""
    from airflow.utils.file import list_py_file_paths

    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    return {Path(path).relative_to(folder).as_posix() for path in list_py_file_paths(folder)}


def dags_loaded_without_import_errors(api: AirflowApi) -> None:
    """Every DAG file in dags/ has been parsed by the running dag-processor, with no import error."""
    expected = dag_files()
    deadline = time.monotonic() + PARSE_TIMEOUT_SECONDS
    while True:
        errors = {
            e["filename"]: e["stack_trace"] for e in api.get("/importErrors?limit=1000")["import_errors"]
        }
        dags = api.get("/dags?limit=1000")["dags"]
        parsed = {d["relative_fileloc"] for d in dags} | set(errors)
        if expected <= parsed:
            break
        if time.monotonic() > deadline:
            raise DemoError(f"not parsed after {PARSE_TIMEOUT_SECONDS:.0f} s: {sorted(expected - parsed)}")
        time.sleep(2)
    if errors:
        raise DemoError("DAG import errors:\n" + "\n".join(f"{f}:\n{trace}" for f, trace in errors.items()))
    print(f"demo: {len(expected)} DAG file(s) parsed, no import errors: {sorted(d['dag_id'] for d in dags)}")


STEPS: list[Callable[[AirflowApi], None]] = [
    dags_loaded_without_import_errors,
]


def run_steps(settings: devstack.Settings) -> None:
    if devstack.airflow_health(settings) is None:
        raise DemoError(f"Airflow at {settings.api_url} is not healthy")
    api = AirflowApi(settings)
    for step in STEPS:
        print(f"demo: {step.__name__.replace('_', ' ')}", flush=True)
        step(api)


def main(argv: list[str] | None = None) -> int:
    settings = devstack.settings_from(devstack.settings_parser(__doc__.splitlines()[0]).parse_args(argv))
    os.environ.update(settings.environment())  # before anything imports Airflow
    try:
        if devstack.running(settings):
            print("demo: using the stack started by `make run`")
            run_steps(settings)
        else:
            with devstack.running_stack(settings):
                run_steps(settings)
    except (DemoError, devstack.StackError) as error:
        print(f"demo: FAILED: {error}", file=sys.stderr)
        return 1
    print("demo: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
