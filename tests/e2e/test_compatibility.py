"""The built wheel installs into a clean Airflow 3 at the ends of its supported range, and the
operator tests pass there.

Each end is a new virtualenv made with uv, holding this checkout's two wheels (the provider with its
'local' extra, and the local stack), pytest, and whatever the wheels' requirements resolve to:

- ``oldest``: the lower bound pyproject.toml declares for each of ``LOWER_BOUNDED``, every other
  package as PyPI had it when uv.lock's newest file was uploaded (``uv --exclude-newer``), so the
  environment is the same on every run of the same checkout;
- ``newest``: the newest release of everything (``make compat`` only: it changes when PyPI does).

The environment runs the repository's operator tests with its own Python, so ``lambdapipe`` is the
installed wheel's, not the plugins folder's: a test checks that and the versions it got.
``make test`` builds the oldest end (uv's cache makes it seconds after the first time) and runs a
third of the operator tests there; ``make compat`` builds both and runs them all.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

pytestmark = pytest.mark.timeout(900)

REPO = Path(__file__).resolve().parents[2]
ENDS = os.environ.get("LAMBDAPIPE_COMPAT_ENDS", "oldest").split()
LOWER_BOUNDED = (
    "apache-airflow",
    "apache-airflow-providers-amazon",
    "apache-airflow-providers-common-compat",
    "pyiceberg",
    "duckdb",
)
# The operator tests, and the tables query (duckdb, pyiceberg) at their bounds. make test runs the
# ones whose dependencies moved most between the ends (the Amazon provider's waiter trigger, duckdb,
# pyiceberg); make compat (LAMBDAPIPE_COMPAT_SCOPE=full) all of them.
MAKE_TEST_OPERATOR_TESTS = (
    "tests/integration/invocation/test_invoke_operator.py",
    "tests/integration/deploy/test_operator.py",  # the deploy's deferrable waiter trigger
    "tests/integration/tables/test_query.py",  # duckdb
)
OPERATOR_TESTS = (
    ("tests/integration/operators", "tests/integration/sensors", *MAKE_TEST_OPERATOR_TESTS)
    if os.environ.get("LAMBDAPIPE_COMPAT_SCOPE") == "full"
    else MAKE_TEST_OPERATOR_TESTS
)
# What the environment reports about itself: where lambdapipe comes from, and the versions it got.
PROBE = """
import json, sys
from importlib.metadata import version
import lambdapipe
print(json.dumps({"lambdapipe": lambdapipe.__file__, "versions": {name: version(name) for name in sys.argv[1:]}}))
"""


@dataclass(frozen=True)
class CleanEnvironment:
    end: str
    root: Path
    pins: dict[str, str]  # package -> the version the end asks for (empty for the newest)

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def lower_bounds() -> dict[str, str]:
    """Package -> its declared lower bound (``>=``), for each of LOWER_BOUNDED."""
    bounds = {}
    for line in _project()["project"]["dependencies"]:
        requirement = Requirement(line)
        if requirement.name in LOWER_BOUNDED:
            [bound] = [spec.version for spec in requirement.specifier if spec.operator == ">="]
            bounds[requirement.name] = bound
    assert set(bounds) == set(LOWER_BOUNDED), f"pyproject.toml declares no lower bound for {LOWER_BOUNDED}"
    return bounds


def development_test_packages() -> list[str]:
    """pytest, its plugins and hypothesis, as the development group asks for them."""
    return [
        line for line in _project()["dependency-groups"]["dev"] if line.startswith(("pytest", "hypothesis"))
    ]


def lock_date() -> str:
    """When uv.lock's newest file was uploaded: the oldest end resolves as PyPI was then."""
    return max(re.findall(r'upload-time = "([^"]+)"', (REPO / "uv.lock").read_text()))


@pytest.fixture(scope="module", params=ENDS)
def clean_environment(
    request: pytest.FixtureRequest, uv: str, wheel: Path, local_stack_wheel: Path, tmp_path_factory
) -> CleanEnvironment:
    end = request.param
    environment = CleanEnvironment(
        end, tmp_path_factory.mktemp(f"compat-{end}") / "venv", lower_bounds() if end == "oldest" else {}
    )
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(environment.root)], check=True)
    install = [uv, "pip", "install", "--quiet", "--python", str(environment.python)]
    install += [f"{wheel}[local]", str(local_stack_wheel), *development_test_packages()]
    install += [f"{name}=={version}" for name, version in environment.pins.items()]
    if end == "oldest":
        install += ["--exclude-newer", lock_date()]
    done = subprocess.run(install, capture_output=True, text=True)
    assert done.returncode == 0, f"installing the {end} end failed:\n{done.stderr[-4000:]}"
    return environment


def test_the_clean_environment_has_the_wheels_lambdapipe_at_the_ends_versions(
    clean_environment: CleanEnvironment,
) -> None:
    done = subprocess.run(
        [str(clean_environment.python), "-c", PROBE, *LOWER_BOUNDED], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.splitlines()[-1])

    assert Path(found["lambdapipe"]).is_relative_to(clean_environment.root)
    got = {name: Version(found["versions"][name]) for name in clean_environment.pins}
    assert got == {name: Version(version) for name, version in clean_environment.pins.items()}


def _environment_without_worker_settings() -> dict[str, str]:
    """This worker's environment without its Airflow, AWS and pytest settings: the tests there set
    their own, as a developer's shell would leave them."""
    foreign = ("AIRFLOW", "AWS_", "LAMBDAPIPE_", "PYTEST_")
    return {name: value for name, value in os.environ.items() if not name.startswith(foreign)}


def test_the_operator_tests_pass_in_the_clean_environment(clean_environment: CleanEnvironment) -> None:
    done = subprocess.run(
        [str(clean_environment.python), "-m", "pytest", *OPERATOR_TESTS, "-p", "no:cacheprovider", "-q"],
        cwd=REPO,
        env=_environment_without_worker_settings(),
        capture_output=True,
        text=True,
        timeout=800,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.fullmatch(r"=* ?\d+ passed(, \d+ warnings?)? in .*", summary), summary  # nothing skipped
