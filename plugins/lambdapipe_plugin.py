"""Registers the lambdapipe plugin when lambdapipe is used from an Astro-style plugins folder.

Airflow imports every ``.py`` file in the plugins folder and registers each AirflowPlugin subclass it
finds in the module's namespace; the plugins folder is on ``sys.path``, so ``lambdapipe`` imports from
here. When the distribution is also installed, its ``airflow.plugins`` entry point registers the same
plugin and Airflow records the second registration as a plugin import error, so this module exposes
the class only when no installed distribution does.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from lambdapipe import plugin


def _registered_by_installed_distribution() -> bool:
    target = f"{plugin.LambdapipePlugin.__module__}:{plugin.LambdapipePlugin.__qualname__}"
    return any(ep.value == target for ep in entry_points(group="airflow.plugins"))


if not _registered_by_installed_distribution():
    LambdapipePlugin = plugin.LambdapipePlugin
