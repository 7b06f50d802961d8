"""Print a ``.env`` with fresh secrets for docker-compose.yaml, which refuses to start without them.

    python3 scripts/compose_env.py > .env

Standard library only (run it before anything is installed). Each run prints new secrets: keep the
file, since the Fernet key encrypts the connections stored in the database.
"""

from __future__ import annotations

import base64
import os
import secrets

COMPOSE_SECRETS = ("AIRFLOW_FERNET_KEY", "AIRFLOW_JWT_SECRET", "AIRFLOW_SECRET_KEY", "AIRFLOW_ADMIN_PASSWORD")


def fresh_secrets() -> dict[str, str]:
    """Every secret docker-compose.yaml requires, newly generated."""
    return {
        "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),  # Fernet's key format
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(64),  # 64 bytes: HMAC-SHA512's recommended minimum
        "AIRFLOW_SECRET_KEY": secrets.token_urlsafe(32),
        "AIRFLOW_ADMIN_PASSWORD": secrets.token_urlsafe(18),
    }


def main() -> None:
    for name, value in fresh_secrets().items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
