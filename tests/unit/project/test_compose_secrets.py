"""Compose starts only with secrets of your own (finding 5 of the security issue).

It used to start without ``.env`` with a JWT secret and API secret key published in this repository,
an empty Fernet key and admin/admin. Compose's ``${VAR:?message}`` stops ``docker compose up`` naming
the variable; the generator line in docs/operations.md writes a ``.env`` that satisfies every one of them.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parents[3]
GENERATOR = "python3 scripts/compose_env.py > .env"
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message} (not $${...}: escaped)
INTERPOLATION = re.compile(r"(?<!\$)\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?P<form>:?[-?])?(?P<rest>[^}]*)\}")
SECRETS = {"AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_SECRET_KEY", "AIRFLOW_ADMIN_PASSWORD"}


def _interpolations() -> dict[str, set[str | None]]:
    """Each variable the compose file reads, with the forms it is read in."""
    found: dict[str, set[str | None]] = {}
    for match in INTERPOLATION.finditer((REPO / "docker-compose.yaml").read_text()):
        found.setdefault(match["name"], set()).add(match["form"])
    return found


def _dotenv(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_every_secret_is_required_and_none_has_a_default() -> None:
    interpolations = _interpolations()

    assert set(interpolations) >= SECRETS, f"compose reads {sorted(interpolations)}"
    assert {name: interpolations[name] for name in SECRETS} == {name: {":?"} for name in SECRETS}


def test_the_docs_generator_writes_a_dotenv_that_satisfies_compose(tmp_path: Path) -> None:
    assert GENERATOR in (REPO / "docs" / "operations.md").read_text(), "docs/operations.md gives this line"
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "compose_env.py").write_bytes((REPO / "scripts" / "compose_env.py").read_bytes())
    for run in range(2):
        subprocess.run(GENERATOR, shell=True, cwd=tmp_path, check=True)
        (tmp_path / f"env-{run}").write_text((tmp_path / ".env").read_text())
    first, second = (_dotenv((tmp_path / f"env-{run}").read_text()) for run in range(2))

    assert set(first) == set(_interpolations()) == SECRETS
    Fernet(first["AIRFLOW_FERNET_KEY"].encode())  # a valid key, or this raises
    assert len(first["AIRFLOW_JWT_SECRET"]) >= 64 and len(first["AIRFLOW_ADMIN_PASSWORD"]) >= 16
    assert all(first[name] != second[name] for name in SECRETS), "every run makes new secrets"


def test_the_dotenv_stays_out_of_git() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO)

    assert ignored.returncode == 0
