"""Fixtures for the platform tests: a DAGs folder, a fresh Postgres database, an empty Redis database.

Each test starts its own stack (tests/e2e/platform/stacks.py: temporary AIRFLOW_HOME, free loopback
ports) and, for the CeleryExecutor, its own freshly created Postgres database (dropped afterwards)
and its own empty Redis database number (flushed afterwards). Postgres and Redis must listen on
127.0.0.1 with the ``lambdapipe`` role: ``make test`` sets that up (scripts/test_prerequisites.sh).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.platform.stacks import REPO

POSTGRES = "127.0.0.1:5432"
POSTGRES_ROLE = "lambdapipe:lambdapipe"  # user:password, created by scripts/test_prerequisites.sh
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
SETUP_HINT = "start Postgres and Redis and create the role with `make test-prerequisites`"


@pytest.fixture
def dags_folder(tmp_path: Path) -> Path:
    """The shipped DAGs (dags/*.py) as symlinks: the files stay the repo's."""
    folder = tmp_path / "dags"
    folder.mkdir()
    for source in sorted((REPO / "dags").glob("*.py")):
        (folder / source.name).symlink_to(source)
    return folder


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A new, empty database for one test, as a SQLAlchemy URL; dropped (connections closed) after."""
    name = f"lambdapipe_e2e_{uuid.uuid4().hex[:12]}"
    _postgres_admin(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg2://{POSTGRES_ROLE}@{POSTGRES}/{name}"
    finally:
        _postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _postgres_admin(statement: str) -> None:
    import psycopg2

    try:
        connection = psycopg2.connect(
            f"postgresql://{POSTGRES_ROLE}@{POSTGRES}/lambdapipe", connect_timeout=5
        )
    except psycopg2.OperationalError as error:
        pytest.fail(f"cannot connect to Postgres at {POSTGRES} as lambdapipe: {error}; {SETUP_HINT}")
    try:
        connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


@pytest.fixture
def redis_broker() -> Iterator[str]:
    """A Redis URL on a database number no one uses (empty), flushed after the test."""
    import redis

    number = _empty_redis_database()
    yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
    with redis.Redis(REDIS_HOST, REDIS_PORT, db=number) as database:
        database.flushdb()


def _empty_redis_database() -> int:
    import redis

    try:
        with redis.Redis(REDIS_HOST, REDIS_PORT, socket_connect_timeout=5) as client:
            databases = int(client.config_get("databases")["databases"])
        # Database 0 is the default of anything else on this machine: count down from the highest.
        for number in range(databases - 1, 0, -1):
            with redis.Redis(REDIS_HOST, REDIS_PORT, db=number, socket_connect_timeout=5) as database:
                if database.dbsize() == 0:
                    return number
    except redis.RedisError as error:
        pytest.fail(f"cannot use Redis at {REDIS_HOST}:{REDIS_PORT}: {error}; {SETUP_HINT}")
    pytest.fail(f"no empty Redis database among 1..{databases - 1} at {REDIS_HOST}:{REDIS_PORT}")
