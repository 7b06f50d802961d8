"""Every benchmark prints the machine's speed beside its figures (issue 18: figures from two machines
of this kind must be comparable), through the one helper that does it: ``machine.reported``."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"
SCRIPTS = sorted(path for path in BENCHMARKS.glob("*.py") if 'if __name__ == "__main__":' in path.read_text())


def _entry_point(path: Path) -> str:
    """The statement under ``if __name__ == "__main__":``, as source."""
    tree = ast.parse(path.read_text())
    [guard] = [
        node for node in tree.body if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
    ]
    return "\n".join(ast.unparse(statement) for statement in guard.body)


def test_the_benchmarks_are_found() -> None:
    assert {"chaos.py", "fanout.py", "history.py", "orders.py"} <= {path.name for path in SCRIPTS}


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_every_benchmark_runs_its_main_between_two_machine_speed_lines(path: Path) -> None:
    assert _entry_point(path) == "sys.exit(reported(main))"
    assert "from machine import reported" in path.read_text()


def test_reported_prints_the_machines_speed_before_and_after_and_passes_the_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = importlib.util.spec_from_file_location("benchmark_machine", BENCHMARKS / "machine.py")
    machine = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(machine)

    code = machine.reported(lambda: print("figures") or 3)

    lines = capsys.readouterr().out.splitlines()
    assert code == 3
    assert [line.split(" ", 2)[:2] for line in (lines[0], lines[2])] == [["machine:", "calibration"]] * 2
    assert lines[1] == "figures"
