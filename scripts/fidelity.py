"""moto's own AWS-verified tests against `lambdapipe local`: how close the local stack is to AWS.

moto marks ``aws_verified`` the tests it also runs against real AWS (``MOTO_TEST_ALLOW_AWS_REQUEST=true``
sends them to ``AWS_ENDPOINT_URL``); pointed at our server they measure our fidelity. Its server-mode
Lambda tests (``TEST_SERVER_MODE=true``) drive a Lambda server over HTTP. The tests come from moto's
sdist for the locked version: URL and sha256 from uv.lock, unpacked into ``.local/fidelity/`` (none of
them is copied into this repository). Every outcome is compared with ``fidelity-expectations.toml``
a failure it does not list fails the run, and so does a listed one that now passes (a stale entry).

    .venv/bin/python scripts/fidelity.py                 # every suite (make fidelity)
    .venv/bin/python scripts/fidelity.py --suite sqs     # one
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import urllib.request
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.local_aws_process import local_aws_process  # noqa: E402

WORK = REPO / ".local" / "fidelity"
EXPECTATIONS = REPO / "scripts" / "fidelity-expectations.toml"
MIN_PASS_RATE = 0.98
# Suite name -> (moto test folder, pytest marker expression, extra environment).
SERVER_MODE = {"TEST_SERVER_MODE": "true"}
SUITES: dict[str, tuple[str, str, dict[str, str]]] = {
    "lambda": ("tests/test_awslambda", "aws_verified", {}),
    "sqs": ("tests/test_sqs", "aws_verified", {}),
    "sns": ("tests/test_sns", "aws_verified", {}),
    "dynamodb": ("tests/test_dynamodb", "aws_verified", {}),
    "s3": ("tests/test_s3", "aws_verified", {}),
    "logs": ("tests/test_logs", "aws_verified", {}),
    "lambda-server-mode": ("tests/test_awslambda", "not requires_docker", SERVER_MODE),
}
# moto's tests run without our pytest settings (no --strict-markers, their own markers).
PYTEST_INI = (
    "[pytest]\naddopts = -p no:cacheprovider\nfilterwarnings = ignore::pytest.PytestUnknownMarkWarning\n"
)


class FidelityError(RuntimeError):
    """The run could not be made (download, hash), as opposed to a test that failed."""


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    outcomes: dict[str, str]  # test id -> passed | failed | skipped

    def count(self, outcome: str) -> int:
        return sum(1 for value in self.outcomes.values() if value == outcome)


def locked_sdist() -> tuple[str, str, str]:
    """moto's version, sdist URL and sha256 as uv.lock pins them."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    [moto] = [package for package in lock["package"] if package["name"] == "moto"]
    return moto["version"], moto["sdist"]["url"], moto["sdist"]["hash"].removeprefix("sha256:")


def moto_tests() -> Path:
    """The unpacked sdist with its tests (downloaded once, hash-checked every time)."""
    version, url, sha256 = locked_sdist()
    archive = WORK / f"moto-{version}.tar.gz"
    WORK.mkdir(parents=True, exist_ok=True)
    if not archive.exists():
        with urllib.request.urlopen(url, timeout=120) as response:
            data = response.read()
        archive.with_suffix(".part").write_bytes(data)
        archive.with_suffix(".part").rename(archive)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != sha256:
        archive.unlink()
        raise FidelityError(f"{url}: sha256 {digest} is not uv.lock's {sha256}; deleted, run again")
    unpacked = WORK / f"moto-{version}"
    if not (unpacked / "tests").is_dir():
        with tarfile.open(archive) as sdist:
            members = [m for m in sdist.getmembers() if m.name.startswith(f"moto-{version}/tests/")]
            sdist.extractall(WORK, members=members, filter="data")
    (unpacked / "pytest.ini").write_text(PYTEST_INI)
    return unpacked


def run_suite(suite: str, moto_dir: Path, endpoint: str, report_dir: Path) -> SuiteResult:
    folder, marker, extra = SUITES[suite]
    report = report_dir / f"{suite}.xml"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "TEST_SERVER_MODE"))},
        "MOTO_TEST_ALLOW_AWS_REQUEST": "true",
        "TEST_SERVER_MODE_ENDPOINT": endpoint,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **extra,
    }
    argv = [sys.executable, "-m", "pytest", folder, "-m", marker, "-q", "--junitxml", str(report)]
    subprocess.run(argv, cwd=moto_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not report.exists():
        raise FidelityError(f"{suite}: pytest wrote no report (run {' '.join(argv)} in {moto_dir})")
    return SuiteResult(suite, _outcomes(report, suite))


def _reset(endpoint: str) -> None:
    request = urllib.request.Request(
        f"{endpoint}/_lambdapipe/reset",
        method="POST",
        data=b"{}",
        headers={"X-Lambdapipe-Admin": "1", "Content-Type": "application/json"},
    )
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=60):
        pass


def _outcomes(report: Path, suite: str) -> dict[str, str]:
    outcomes = {}
    for case in ElementTree.parse(report).iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        test_id = f"{suite}:{module}.py::{case.get('name')}"
        if case.find("failure") is not None or case.find("error") is not None:
            outcomes[test_id] = "failed"
        elif case.find("skipped") is not None:
            outcomes[test_id] = "skipped"
        else:
            outcomes[test_id] = "passed"
    return outcomes


def compare(results: list[SuiteResult], known: dict[str, str]) -> list[str]:
    """What fails the run: unlisted failures, listed ones that pass, and under 98% of the aws_verified
    tests passing (moto's server-mode Lambda tests are not checked against AWS: no floor for them)."""
    problems = []
    ran = {suite.suite for suite in results}
    outcomes = {test: outcome for suite in results for test, outcome in suite.outcomes.items()}
    for test, outcome in sorted(outcomes.items()):
        if outcome == "failed" and test not in known:
            problems.append(f"new failure: {test}")
    for test in sorted(known):
        if test.split(":", 1)[0] in ran and outcomes.get(test) != "failed":
            problems.append(f"listed as a known difference but {outcomes.get(test, 'not run')}: {test}")
    verified = [suite for suite in results if SUITES[suite.suite][1] == "aws_verified"]
    rate = pass_rate(*verified)
    if verified and rate < MIN_PASS_RATE:
        problems.append(f"aws_verified tests: {rate:.1%} passed, under {MIN_PASS_RATE:.0%}")
    return problems


def pass_rate(*suites: SuiteResult) -> float:
    """Passed over passed and failed (skipped tests count neither way)."""
    passed = sum(suite.count("passed") for suite in suites)
    ran = passed + sum(suite.count("failed") for suite in suites)
    return passed / ran if ran else 0.0


def table(results: list[SuiteResult]) -> str:
    lines = [
        "| suite | passed | failed (known) | skipped | pass rate |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    totals: Counter[str] = Counter()
    for suite in results:
        counts = {outcome: suite.count(outcome) for outcome in ("passed", "failed", "skipped")}
        totals.update(counts)
        lines.append(
            f"| {suite.suite} | {counts['passed']} | {counts['failed']} | {counts['skipped']} "
            f"| {pass_rate(suite):.1%} |"
        )
    verified = [suite for suite in results if SUITES[suite.suite][1] == "aws_verified"]
    lines.append(f"| all aws_verified suites | | | | {pass_rate(*verified):.1%} |")
    lines.append(
        f"| all | {totals['passed']} | {totals['failed']} | {totals['skipped']} | {pass_rate(*results):.1%} |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", choices=sorted(SUITES), help="repeatable; default: all")
    args = parser.parse_args(argv)
    suites = args.suite or list(SUITES)
    try:
        moto_dir = moto_tests()
        known = tomllib.loads(EXPECTATIONS.read_text())["known_differences"]
        with tempfile.TemporaryDirectory() as scratch, local_aws_process(Path(scratch) / "aws") as endpoint:
            results = []
            for suite in suites:
                print(f"fidelity: {suite} ...", flush=True)
                _reset(endpoint)  # each suite starts on an empty stack, as on a fresh account
                results.append(run_suite(suite, moto_dir, endpoint, Path(scratch)))
    except FidelityError as error:
        print(f"fidelity: {error}", file=sys.stderr)
        return 2
    print(table(results))
    problems = compare(results, known)
    for problem in problems:
        print(f"fidelity: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
