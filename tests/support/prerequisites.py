"""What the suite needs outside its Python environment, checked in well under a second.

``make test`` sets all of it up (``scripts/test_prerequisites.sh``); a bare ``pytest`` on a machine
without it stops at the start with one line instead of failing a handful of tests at the end.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
POSTGRES = ("127.0.0.1", 5432)
POSTGRES_URL = "postgresql://lambdapipe:lambdapipe@127.0.0.1:5432/lambdapipe"
REDIS = ("127.0.0.1", 6379)
NODE_SDK = Path(__file__).resolve().parents[2] / ".local" / "node-sdk"


def missing_prerequisites() -> list[str]:
    """One short phrase per missing prerequisite; empty when the suite can run."""
    missing = [f"{tool} (Debian: nodejs npm)" for tool in ("node", "npm") if shutil.which(tool) is None]
    if not CHROMIUM.is_file():
        missing.append(f"{CHROMIUM} (Debian: chromium fonts-liberation)")
    if shutil.which("uv") is None:
        missing.append("uv on PATH (make install puts it in ~/.local/bin)")
    if not NODE_SDK.is_dir():
        missing.append(f"the Node.js AWS SDK in {NODE_SDK} (make install)")
    if not _answers_ping(REDIS):
        missing.append(f"Redis on {REDIS[0]}:{REDIS[1]}")
    postgres_error = _postgres_login_error()
    if postgres_error:
        missing.append(f"Postgres role lambdapipe on {POSTGRES[0]}:{POSTGRES[1]} ({postgres_error})")
    return missing


def _answers_ping(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=2) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _postgres_login_error() -> str | None:
    import psycopg2

    try:
        psycopg2.connect(POSTGRES_URL, connect_timeout=3).close()
    except psycopg2.OperationalError as error:
        return str(error).strip().splitlines()[0]
    return None
