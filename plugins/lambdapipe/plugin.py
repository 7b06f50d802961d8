"""The lambdapipe Airflow plugin: the Lambda view (a FastAPI app plus its entries in the UI's navigation).

Registered by the ``airflow.plugins`` entry point when the distribution is installed, and by
``plugins/lambdapipe_plugin.py`` when lambdapipe is used from an Astro-style plugins folder.

Every Airflow process imports plugins, but only the API server mounts FastAPI apps: ``fastapi_apps``
builds the app on first access, so schedulers, workers and DAG parsing never import FastAPI or the
API server's security module (~2 s) for it.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from lambdapipe.ui import URL_PREFIX, URL_ROUTE


class LambdapipePlugin(AirflowPlugin):
    """Airflow registers plugins by ``name``: keep it stable, duplicates are refused."""

    name = "lambdapipe"
    external_views = [
        {
            "name": "Lambda",
            "href": f"{URL_PREFIX}/",
            "url_route": URL_ROUTE,
            "destination": "nav",
            "category": "browse",
            "icon": f"{URL_PREFIX}/static/lambda.svg",
        },
        {
            "name": "Lambda",
            "href": f"{URL_PREFIX}/?dag_id={{DAG_ID}}",
            "url_route": f"{URL_ROUTE}-dag",
            "destination": "dag",
            "icon": f"{URL_PREFIX}/static/lambda.svg",
        },
    ]

    @cached_property
    def fastapi_apps(self) -> list[dict[str, Any]]:  # type: ignore[override]
        from lambdapipe.ui.app import create_app

        return [{"name": "lambdapipe", "app": create_app(), "url_prefix": URL_PREFIX}]
