"""DAG parse times and lambdapipe's import cost, each the median of several fresh processes.

A DAG file is timed the way the dag-processor meets it: Airflow 3.3's processor imports
``airflow.dag_processing.processor`` (serialization, models) and, before forking the process that
parses a file, the ``airflow.*`` modules the file imports (``parsing_pre_import_modules``, on by
default); the parse in that fork is what is timed here, as reported by the DagBag (FileLoadStat). Imports are timed in a fresh
interpreter; operator/sensor modules after ``import airflow.sdk``, so only lambdapipe's own cost shows.
Baselines from the same run: a trivial DAG file and ``import airflow.sdk``.

    python benchmarks/dag_parse.py [--runs 5]     # exit 1 if a DAG file's median exceeds the target
"""

from __future__ import annotations

import argparse
import os
import pkgutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from machine import reported  # benchmarks/, the script's folder

REPO = Path(__file__).resolve().parents[1]
PARSE_TARGET_MS = 300.0

TRIVIAL_DAG = """
from airflow.sdk import dag, task

@dag(schedule=None, tags=["baseline"])
def trivial():
    @task
    def noop():
        pass

    noop()

trivial()
"""

IMPORT_TIME = """
import sys, time
for name in sys.argv[2].split(",") if sys.argv[2] else []:
    __import__(name)
started = time.perf_counter()
__import__(sys.argv[1])
print((time.perf_counter() - started) * 1000)
"""

PARSE_TIME = """
import importlib, sys
import airflow.sdk
import airflow.dag_processing.processor
from airflow.dag_processing.dagbag import DagBag
from airflow.utils.file import iter_airflow_imports
for module in iter_airflow_imports(sys.argv[1]):
    importlib.import_module(module)
bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
if bag.import_errors:
    sys.exit(f"import errors: {bag.import_errors}")
print(sum(stat.duration.total_seconds() for stat in bag.dagbag_stats) * 1000)
"""


def _median_ms(snippet: str, args: list[str], runs: int, env: dict[str, str]) -> float:
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", snippet, *args], env=env, capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise SystemExit(f"benchmark failed for {args}: {out.stderr.strip().splitlines()[-1:]}")
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def _operator_modules() -> list[str]:
    import lambdapipe.operators
    import lambdapipe.sensors

    names = []
    for package in (lambdapipe.operators, lambdapipe.sensors):
        names.append(package.__name__)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    return names


def _dag_files(dags_folder: Path) -> list[Path]:
    from airflow.utils.file import list_py_file_paths

    return sorted(Path(p) for p in list_py_file_paths(dags_folder, safe_mode=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per measurement (median)")
    parser.add_argument(
        "--dags-folder", type=Path, default=REPO / "dags", help="DAG files to time (default: dags/)"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="lambdapipe-bench-") as scratch:
        env = {
            **os.environ,
            "AIRFLOW_HOME": scratch,
            "AIRFLOW__CORE__DAGS_FOLDER": str(args.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__LAMBDAPIPE__TABLE_DEFINITIONS": "lambdapipe_demo.tables",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        }
        os.environ.update(env)  # before this process imports Airflow to list the DAG files
        trivial = Path(scratch) / "trivial_dag.py"
        trivial.write_text(TRIVIAL_DAG)

        rows: list[tuple[str, float, float | None]] = [
            (
                "import airflow.sdk (baseline)",
                _median_ms(IMPORT_TIME, ["airflow.sdk", ""], args.runs, env),
                None,
            ),
            ("import lambdapipe", _median_ms(IMPORT_TIME, ["lambdapipe", ""], args.runs, env), None),
            ("import lambdapipe.cli", _median_ms(IMPORT_TIME, ["lambdapipe.cli", ""], args.runs, env), None),
        ]
        for module in _operator_modules():
            ms = _median_ms(IMPORT_TIME, [module, "airflow.sdk"], args.runs, env)
            rows.append((f"import {module} (after airflow.sdk)", ms, None))
        rows.append(
            ("parse trivial DAG (baseline)", _median_ms(PARSE_TIME, [str(trivial)], args.runs, env), None)
        )
        for dag_file in _dag_files(args.dags_folder):
            ms = _median_ms(PARSE_TIME, [str(dag_file)], args.runs, env)
            rows.append((f"parse {dag_file.name}", ms, PARSE_TARGET_MS))

    width = max(len(name) for name, _, _ in rows)
    print(f"median of {args.runs} fresh processes, milliseconds\n")
    print(f"{'what':<{width}}  {'median':>9}  target")
    over = []
    for name, ms, target in rows:
        verdict = "" if target is None else f"<= {target:.0f} {'ok' if ms <= target else 'OVER'}"
        print(f"{name:<{width}}  {ms:9.1f}  {verdict}".rstrip())
        if target is not None and ms > target:
            over.append(name)
    if over:
        print(f"\nover the {PARSE_TARGET_MS:.0f} ms parse target: {over}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(reported(main))
