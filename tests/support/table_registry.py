"""Register table definitions for one test the way a project does: a module named in the setting."""

from __future__ import annotations

import sys
import types
import uuid

import pytest

from lambdapipe.tables.definitions import TableSpec


def register_tables(monkeypatch: pytest.MonkeyPatch, *specs: TableSpec) -> str:
    """Make ``specs`` the project's tables (``[lambdapipe] table_definitions``) until the test ends.

    Each call registers a module under a new name, so the registry's per-setting cache never hands a
    test the tables of an earlier one.
    """
    name = f"registered_tables_{uuid.uuid4().hex}"
    module = types.ModuleType(name)
    module.TABLES = specs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setenv("AIRFLOW__LAMBDAPIPE__TABLE_DEFINITIONS", name)
    return name
