"""A dev stack's three stores agree: the Airflow metadata DB, the tables catalog (both in the home) and
the local AWS state (saved by `lambdapipe local` under ``<home>/local-aws``).

They are restored together on a restart. When one is gone or older than the others (a home from before
the AWS state was saved, a deleted folder), the catalog names files S3 no longer has and every upload
run fails; the start says so in one line instead, and ``reset`` deletes all three together.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdapipe.commands.tables import MISSING_FILES_EXIT  # `tables check`: files S3 does not have

if TYPE_CHECKING:
    from devstack import Settings

AWS_STATE_FILE = Path("local-aws") / "aws-state.pickle"  # lambdapipe_local.moto_backend.persistence
HOME_MARKER = "env.sh"  # written at every start: a folder without it is not a dev stack's home


@dataclass(frozen=True)
class SavedStores:
    """Which stores a home had before a start (the start creates both)."""

    airflow_db: bool
    aws_state: bool


def saved_stores(settings: Settings, with_local_aws: bool) -> SavedStores:
    """``with_local_aws``: the stack runs `lambdapipe local` (else no AWS state is ever saved here)."""
    airflow_db = with_local_aws and settings.database_url is None and (settings.home / "airflow.db").exists()
    return SavedStores(airflow_db=airflow_db, aws_state=(settings.home / AWS_STATE_FILE).exists())


def out_of_step(settings: Settings, before: SavedStores, env: dict[str, str], lambdapipe: Path) -> str | None:
    """Why the stores disagree (one line), or None; ``before``: what the home had before this start."""
    if before.airflow_db and not before.aws_state:
        airflow_db = settings.home / "airflow.db"
        return f"{airflow_db} has runs from an earlier start, but no local AWS state was saved with them"
    check = subprocess.run([str(lambdapipe), "tables", "check"], env=env, capture_output=True, text=True)
    first = (check.stderr.strip().splitlines() or [f"exit {check.returncode}"])[0]
    if check.returncode == MISSING_FILES_EXIT:
        return f"the tables catalog names files the local AWS state does not have ({first})"
    if check.returncode != 0:  # not a disagreement: the pipelines will say what is wrong
        print(f"devstack: could not check the tables catalog against the AWS state: {first}", flush=True)
    return None


@contextlib.contextmanager
def _aws_state_unused(state_dir: Path) -> Iterator[None]:
    """Hold the AWS state directory as `lambdapipe local` does: refused while a server (even one the
    pid file lost) still uses it."""
    if not state_dir.is_dir() or importlib.util.find_spec("lambdapipe_local") is None:
        yield
        return
    from lambdapipe_local.moto_backend.persistence import StateError, claim

    try:
        holder = claim(state_dir)
    except StateError as error:
        raise ValueError(str(error)) from None
    with holder:
        yield


def reset_hint(settings: Settings, default_home: Path) -> str:
    command = (
        "make reset" if settings.home == default_home else f"scripts/devstack.py --home {settings.home} reset"
    )
    return f"`{command}` deletes its runs, tables and AWS state and starts afresh"


def reset(settings: Settings) -> str:
    """Delete the home (metadata DB, catalog, AWS state, logs); the stack must be stopped."""
    if settings.database_url or settings.tables_catalog_url:
        raise ValueError(
            "reset deletes only the home folder: the metadata DB or tables catalog given by URL is elsewhere"
        )
    if not settings.home.exists():
        return f"nothing to reset: {settings.home} does not exist"
    if not (settings.home / HOME_MARKER).exists():
        raise ValueError(f"{settings.home} is not a dev stack's home (no {HOME_MARKER}): not deleting it")
    with _aws_state_unused(settings.home / AWS_STATE_FILE.parent):
        shutil.rmtree(settings.home)
    return f"deleted {settings.home}: the next start begins with no runs, tables or AWS state"
