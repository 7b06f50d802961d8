"""The [lambdapipe] settings: declared in provider info, read only through lambdapipe.settings, typed."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lambdapipe.provider_info import get_provider_info


def _reads_lambdapipe_section(source: str) -> bool:
    """Whether the code calls ``conf.<anything>("lambdapipe", ...)``."""
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "conf"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value == "lambdapipe"
        for node in ast.walk(ast.parse(source))
    )


def test_every_declared_setting_is_read_through_the_settings_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each reader asks lambdapipe.settings, which refuses undeclared names; none is declared for nothing."""
    from lambdapipe import settings
    from lambdapipe.invoking.ledger import recording_enabled
    from lambdapipe.invoking.metrics import LambdaPricing
    from lambdapipe.tables.config import load_config
    from lambdapipe.tables.definitions import registered_tables
    from lambdapipe.ui.app import ui_aws_conn_id

    asked: set[str] = set()
    real_get = settings.get

    def recording_get(option: str) -> str | None:
        asked.add(option)
        return real_get(option)

    monkeypatch.setattr(settings, "get", recording_get)
    recording_enabled(None)
    load_config(conn_id=None)
    registered_tables()
    ui_aws_conn_id()
    LambdaPricing.from_settings()

    assert asked == set(get_provider_info()["config"]["lambdapipe"]["options"])


def test_an_undeclared_setting_is_refused_by_name() -> None:
    from lambdapipe import settings

    with pytest.raises(
        settings.UndeclaredSettingError, match=r"\[lambdapipe\] tables_colour is not declared"
    ):
        settings.get("tables_colour")


def test_a_setting_of_the_wrong_type_names_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdapipe import settings

    monkeypatch.setenv("AIRFLOW__LAMBDAPIPE__RECORD_INVOCATIONS", "sometimes")
    monkeypatch.setenv("AIRFLOW__LAMBDAPIPE__PRICE_PER_REQUEST", "cheap")

    with pytest.raises(
        settings.SettingValueError, match=r"record_invocations must be true or false, not 'sometimes'"
    ):
        settings.get_bool("record_invocations")
    with pytest.raises(settings.SettingValueError, match=r"price_per_request must be a number, not 'cheap'"):
        settings.get_float("price_per_request")


def test_only_the_settings_module_reads_the_lambdapipe_section(repo_root: Path) -> None:
    provider = repo_root / "plugins" / "lambdapipe"
    readers = sorted(
        str(path.relative_to(provider))
        for path in provider.rglob("*.py")
        if path.name != "settings.py" and _reads_lambdapipe_section(path.read_text())
    )

    assert _reads_lambdapipe_section('def f():\n    return conf.getboolean("lambdapipe", "x")\n')
    assert readers == []
