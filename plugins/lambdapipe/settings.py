"""The provider's settings: the one module that reads ``[lambdapipe]`` from Airflow's configuration.

Every option is declared in ``provider_info`` (so ``airflow config list --section lambdapipe`` shows
it, its description and default) and read here by name; a name that is not declared is a bug, and a
test keeps any other module from reading the section itself. Airflow also takes each option from
``AIRFLOW__LAMBDAPIPE__<OPTION>`` in the environment.
"""

from __future__ import annotations

from typing import Any

from lambdapipe.provider_info import get_provider_info

SECTION = "lambdapipe"


class UndeclaredSettingError(KeyError):
    """Code asked for a ``[lambdapipe]`` option that provider_info does not declare."""


class SettingValueError(ValueError):
    """A ``[lambdapipe]`` option holds a value of the wrong type; the message names the option."""


def declared_options() -> dict[str, dict[str, Any]]:
    """The options provider_info declares, by name."""
    return get_provider_info()["config"][SECTION]["options"]


def get(option: str) -> str | None:
    """The configured value of ``option``, else its declared default; an empty value is None."""
    declared = declared_options()
    if option not in declared:
        raise UndeclaredSettingError(f"[{SECTION}] {option} is not declared in lambdapipe.provider_info")
    from airflow.configuration import conf

    value = conf.get(SECTION, option, fallback=declared[option]["default"])
    return value or None


def get_bool(option: str) -> bool:
    """``option`` as a boolean (true/false, t/f, 1/0, as Airflow reads them)."""
    value = get(option)
    if value is None:
        return False
    normalised = value.strip().lower()
    if normalised in ("true", "t", "1"):
        return True
    if normalised in ("false", "f", "0"):
        return False
    raise SettingValueError(f"[{SECTION}] {option} must be true or false, not {value!r}")


def get_float(option: str) -> float | None:
    """``option`` as a number, or None when it is unset."""
    value = get(option)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise SettingValueError(f"[{SECTION}] {option} must be a number, not {value!r}") from None
