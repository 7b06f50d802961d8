"""``make run``'s SQLite metadata database under write contention: a writer waits for the lock longer
than sqlite3's 5 s default, so a busy scheduler does not turn a UI request into HTTP 500."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import devstack  # noqa: E402  (a script, not a package)

HOLD_SECONDS = 7.0  # longer than sqlite3's default 5 s timeout, well inside the stack's 30 s

WRITE_THROUGH_AIRFLOW = """
import time

from sqlalchemy import text
from airflow import settings

with settings.Session() as session:
    print("writing", flush=True)
    started = time.monotonic()
    session.execute(text("INSERT INTO contention (note) VALUES ('airflow')"))
    session.commit()
    print(round(time.monotonic() - started, 1))
"""


def test_an_airflow_write_waits_for_a_lock_held_past_sqlite3s_5_s_default(tmp_path: Path) -> None:
    settings = devstack.Settings(home=tmp_path, api_port=0, aws_port=0)
    environment = {
        "PATH": str(Path(sys.executable).parent),
        **{key: value for key, value in settings.environment().items() if key.startswith("AIRFLOW")},
    }
    database = tmp_path / "airflow.db"
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("CREATE TABLE contention (note TEXT)")
    holder.execute("BEGIN EXCLUSIVE")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITE_THROUGH_AIRFLOW],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline() == "writing\n", writer.communicate(timeout=60)
        time.sleep(HOLD_SECONDS)  # the writer waits on the lock meanwhile
        holder.execute("COMMIT")
        stdout, stderr = writer.communicate(timeout=60)
    finally:
        holder.close()
        if writer.poll() is None:
            writer.kill()

    assert writer.returncode == 0, stderr[-2000:]
    assert float(stdout.split()[-1]) >= HOLD_SECONDS  # it waited for the lock, then wrote
    rows = sqlite3.connect(database).execute("SELECT note FROM contention").fetchall()
    assert rows == [("airflow",)]
