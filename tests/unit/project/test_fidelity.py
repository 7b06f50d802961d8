"""scripts/fidelity.py's verdict: which outcomes of moto's tests fail the run."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))
import fidelity  # noqa: E402  (a script, not a package)

A, B, C = (
    "sqs:tests/test_sqs/test_sqs.py::test_a",
    "sqs:tests/test_sqs/test_sqs.py::test_b",
    "sns:tests/x.py::t",
)


def _result(suite: str, **outcomes: str) -> fidelity.SuiteResult:
    return fidelity.SuiteResult(
        suite, {f"{suite}:tests/t.py::{name}": value for name, value in outcomes.items()}
    )


def test_a_failure_not_listed_as_a_known_difference_fails_the_run() -> None:
    results = [fidelity.SuiteResult("sqs", {A: "failed", **{f"sqs:p{i}": "passed" for i in range(99)}})]

    assert fidelity.compare(results, known={}) == [f"new failure: {A}"]
    assert fidelity.compare(results, known={A: "moto expects moto-only behaviour"}) == []


def test_a_listed_difference_that_passes_now_is_stale_unless_its_suite_did_not_run() -> None:
    results = [fidelity.SuiteResult("sqs", {B: "passed"})]

    assert fidelity.compare(results, known={B: "fixed since", C: "sns did not run"}) == [
        f"listed as a known difference but passed: {B}"
    ]


def test_an_aws_verified_pass_rate_under_98_percent_fails_even_when_every_failure_is_known() -> None:
    results = [_result("logs", a="passed", b="failed", c="skipped")]
    known = {"logs:tests/t.py::b": "documented"}

    assert fidelity.compare(results, known) == ["aws_verified tests: 50.0% passed, under 98%"]
    assert fidelity.pass_rate(*results) == 0.5, "skipped tests count neither way"


def test_moto_server_mode_tests_have_no_floor_only_documented_failures() -> None:
    results = [_result("lambda-server-mode", a="passed", b="failed")]

    assert fidelity.compare(results, {"lambda-server-mode:tests/t.py::b": "documented"}) == []


def test_the_expectations_file_gives_every_known_difference_a_reason() -> None:
    import tomllib

    known = tomllib.loads(fidelity.EXPECTATIONS.read_text())["known_differences"]

    assert all(test.split(":", 1)[0] in fidelity.SUITES for test in known)
    assert all(isinstance(reason, str) and len(reason) > 20 for reason in known.values())


def test_the_moto_sdist_is_the_locked_version_with_its_hash() -> None:
    version, url, sha256 = fidelity.locked_sdist()

    import moto

    assert version == moto.__version__
    assert url.endswith(f"/moto-{version}.tar.gz") and len(sha256) == 64
