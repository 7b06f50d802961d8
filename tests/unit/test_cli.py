"""The `lambdapipe` command lists its subcommands and hands each one the rest of the command line."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lambdapipe import cli

received: list[list[str]] = []


def record(argv: list[str]) -> int:
    received.append(argv)
    return 7


def test_help_lists_every_subcommand() -> None:
    executable = shutil.which("lambdapipe", path=str(Path(sys.executable).parent))
    assert executable, "the console script is installed by `uv sync`"
    result = subprocess.run([executable, "--help"], check=True, capture_output=True, text=True)

    for name, (help_text, _) in cli.SUBCOMMANDS.items():
        assert name in result.stdout and help_text in result.stdout
    assert "local" in result.stdout, "the local stack's subcommand is listed even before it is installed"


def test_local_comes_from_the_local_stack_distribution() -> None:
    """`lambdapipe local` runs the code the lambdapipe-local distribution registers, not the provider's."""
    executable = shutil.which("lambdapipe", path=str(Path(sys.executable).parent))
    result = subprocess.run([executable, "local", "--help"], capture_output=True, text=True, timeout=60)

    assert result.returncode == 0, result.stderr
    assert "usage: lambdapipe local" in result.stdout and "--check-signatures" in result.stdout


def test_a_plugged_subcommand_that_is_not_installed_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(cli.PLUGGED_SUBCOMMANDS, "emulate", "a subcommand no distribution provides")

    assert cli.main(["emulate", "--port", "1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "lambdapipe emulate: not installed. It comes with the 'local' extra: "
        "pip install 'airflow-provider-lambdapipe[local]'"
    )


def test_subcommand_receives_the_remaining_arguments_and_its_exit_code_is_returned(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(cli.SUBCOMMANDS, "record", ("records its arguments", f"{__name__}:record"))

    assert cli.main(["record", "--port", "4566", "extra", "--help"]) == 7
    assert received == [["--port", "4566", "extra", "--help"]]


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["no-such-command"])

    assert exit_info.value.code == 2
    assert "invalid choice: 'no-such-command'" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(cli.SUBCOMMANDS))
def test_every_registered_subcommand_resolves_to_a_function(name: str) -> None:
    module_name, _, function_name = cli.SUBCOMMANDS[name][1].partition(":")

    assert callable(getattr(importlib.import_module(module_name), function_name))


def test_tables_keeps_airflows_info_logs_off_stdout(tmp_path: Path) -> None:
    """`lambdapipe tables` sets Airflow's log level before Airflow is imported: stdout is for results."""
    executable = shutil.which("lambdapipe", path=str(Path(sys.executable).parent))
    environment = {
        "PATH": str(Path(sys.executable).parent),
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__LAMBDAPIPE__TABLE_DEFINITIONS": "lambdapipe_demo.tables",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }
    result = subprocess.run(
        [executable, "tables", "list"], env=environment, capture_output=True, text=True, timeout=120
    )

    assert "no catalog at" in result.stderr  # nothing committed under this AIRFLOW_HOME
    assert "[info" not in result.stdout, result.stdout
