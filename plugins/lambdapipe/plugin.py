"""The lambdapipe Airflow plugin: where UI views, FastAPI apps and listeners attach.

Registered by the ``airflow.plugins`` entry point when the distribution is installed, and by
``plugins/lambdapipe_plugin.py`` when lambdapipe is used from an Astro-style plugins folder.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin


class LambdapipePlugin(AirflowPlugin):
    """Airflow registers plugins by ``name``: keep it stable, duplicates are refused."""

    name = "lambdapipe"
