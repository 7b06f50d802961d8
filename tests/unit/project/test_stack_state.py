"""`make reset` deletes a stopped dev stack's home, and nothing that is not one; a home whose Airflow DB
outlived its local AWS state is reported as out of step before any run fails on it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lambdapipe_local.moto_backend import persistence

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "scripts"))
import devstack  # noqa: E402  (a script, not a package)
import stack_state  # noqa: E402

NEVER_RUN = REPO / "no-such-lambdapipe-binary"  # out_of_step must answer before it runs the check


def _home(tmp_path: Path, *files: str) -> devstack.Settings:
    home = tmp_path / "home"
    for name in files:
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text("x")
    return devstack.Settings(home=home)


def test_reset_deletes_the_home_with_its_runs_catalog_and_aws_state(tmp_path: Path) -> None:
    settings = _home(
        tmp_path, "env.sh", "airflow.db", "lambdapipe/catalog.db", str(stack_state.AWS_STATE_FILE)
    )

    message = stack_state.reset(settings)

    assert not settings.home.exists()
    assert message == f"deleted {settings.home}: the next start begins with no runs, tables or AWS state"


def test_reset_refuses_a_folder_that_is_not_a_dev_stack_home(tmp_path: Path) -> None:
    settings = _home(tmp_path, "notes.txt")

    with pytest.raises(ValueError, match=r"is not a dev stack's home \(no env.sh\): not deleting it"):
        stack_state.reset(settings)
    assert (settings.home / "notes.txt").exists()


def test_reset_refuses_when_the_metadata_db_lives_outside_the_home(tmp_path: Path) -> None:
    settings = devstack.Settings(home=tmp_path, database_url="postgresql+psycopg2://u:p@127.0.0.1/db")

    with pytest.raises(ValueError, match="given by URL is elsewhere"):
        stack_state.reset(settings)


def test_an_airflow_db_without_saved_aws_state_is_out_of_step(tmp_path: Path) -> None:
    settings = _home(tmp_path, "env.sh", "airflow.db")
    before = stack_state.saved_stores(settings, with_local_aws=True)

    reason = stack_state.out_of_step(settings, before, {}, NEVER_RUN)

    assert before == stack_state.SavedStores(airflow_db=True, aws_state=False)
    assert (
        reason
        == f"{settings.home / 'airflow.db'} has runs from an earlier start, but no local AWS state was saved with them"
    )


def test_the_reset_hint_names_make_reset_for_the_default_home_and_the_script_for_another() -> None:
    default = devstack.Settings()
    other = devstack.Settings(home=Path("/tmp/elsewhere"))

    assert stack_state.reset_hint(default, devstack.Settings.home).startswith("`make reset` deletes")
    assert stack_state.reset_hint(other, devstack.Settings.home).startswith(
        "`scripts/devstack.py --home /tmp/elsewhere reset` deletes"
    )


def test_without_the_local_stack_an_airflow_db_alone_is_not_out_of_step(tmp_path: Path) -> None:
    """No `lambdapipe local` in the stack: no AWS state is ever saved, so its absence says nothing."""
    settings = _home(tmp_path, "env.sh", "airflow.db")

    assert stack_state.saved_stores(settings, with_local_aws=False).airflow_db is False


def test_reset_refuses_while_a_local_stack_still_holds_the_aws_state(tmp_path: Path) -> None:
    """Even one the pid file lost: the state directory's lock says a server still uses it."""
    settings = _home(tmp_path, "env.sh", str(stack_state.AWS_STATE_FILE))
    holder = persistence.claim(settings.home / stack_state.AWS_STATE_FILE.parent)

    with holder, pytest.raises(ValueError, match=r"another lambdapipe local \(pid \d+\) is using"):
        stack_state.reset(settings)
    assert settings.home.exists()
