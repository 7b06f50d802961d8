"""An auth manager for tests about per-DAG permissions, which Airflow's simple auth manager lacks.

It is the simple auth manager, except that a user named ``reader-of-<dag_id>`` may read that one DAG
and no other (as a FAB or Keycloak role limited to some DAGs would allow). Selected with
``AIRFLOW__CORE__AUTH_MANAGER``, so the API server checks permissions through it as it would through
any auth manager.
"""

from __future__ import annotations

from typing import Any

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

READER_PREFIX = "reader-of-"


class DagScopedAuthManager(SimpleAuthManager):
    """Simple auth manager whose ``reader-of-<dag_id>`` users read only that DAG."""

    def is_authorized_dag(
        self, *, method: str, user: Any, access_entity: Any = None, details: Any = None
    ) -> bool:
        if user.username.startswith(READER_PREFIX):
            dag_id = user.username.removeprefix(READER_PREFIX)
            return method == "GET" and details is not None and details.id == dag_id
        return super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        )
