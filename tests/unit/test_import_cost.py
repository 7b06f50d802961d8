"""Importing lambdapipe stays cheap: DAG files, the CLI and Airflow's provider discovery import it.

Each module is imported in one fresh interpreter, in order, and the heavy libraries that appear in
sys.modules after each import are blamed on it. Operators and sensors are found by walking their
packages, so new modules are covered without editing this test.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import lambdapipe.operators
import lambdapipe.sensors

HEAVY = ("pyiceberg", "moto", "pyarrow")
# The CLI and the package root must not even import Airflow: `lambdapipe --help` stays instant.
NO_AIRFLOW = ("lambdapipe", "lambdapipe.cli", "lambdapipe.provider_info")

BLAME = """
import importlib, json, sys
heavy = tuple(sys.argv[2].split(","))
blame = {}
for name in sys.argv[1].split(","):
    before = {m.split(".")[0] for m in sys.modules}
    importlib.import_module(name)
    blame[name] = sorted(({m.split(".")[0] for m in sys.modules} - before) & set(heavy))
print(json.dumps(blame))
"""


def _modules(package) -> list[str]:
    return [package.__name__] + [
        m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    ]


def _blame(modules: list[str], heavy: tuple[str, ...]) -> dict[str, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", BLAME, ",".join(modules), ",".join(heavy)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_package_root_cli_and_provider_info_import_neither_airflow_nor_heavy_libraries() -> None:
    blame = _blame(list(NO_AIRFLOW), (*HEAVY, "airflow"))

    assert blame == {name: [] for name in NO_AIRFLOW}


def test_operator_and_sensor_modules_import_no_heavy_library() -> None:
    modules = _modules(lambdapipe.operators) + _modules(lambdapipe.sensors)
    blame = _blame(modules, HEAVY)

    assert blame == {name: [] for name in modules}
