"""Asset names shared by the DAGs that produce and consume them, so both sides spell them the same."""

from __future__ import annotations

from airflow.sdk import Asset


def lambda_function_asset(function_name: str) -> Asset:
    """Updated each time the deploy DAG deploys ``function_name``: pipelines can schedule on it."""
    return Asset(name=f"lambda_function/{function_name}", uri=f"x-lambda://function/{function_name}")


def table_asset(table_name: str) -> Asset:
    """Updated each time a task commits to the analytics table ``table_name``: pipelines can schedule on it."""
    return Asset(name=f"table/{table_name}", uri=f"x-iceberg://lambdapipe/{table_name}")
