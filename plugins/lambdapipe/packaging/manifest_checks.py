"""Type and range checks shared by the manifest's dataclasses; errors name the field and the value."""

from __future__ import annotations

from typing import Any

from lambdapipe.packaging.errors import ManifestError


def describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"


def check_type(name: str, value: Any, kind: type | tuple[type, ...], expected: str) -> None:
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ManifestError(name, f"must be {expected} (got {describe(value)})")


def check_range(name: str, value: Any, bounds: tuple[int, int], unit: str) -> None:
    check_type(name, value, int, "an integer")
    low, high = bounds
    if not low <= value <= high:
        raise ManifestError(name, f"must be between {low} and {high} {unit} (got {value})")


def string_tuple(name: str, value: Any, *, allow_empty: bool) -> tuple[str, ...]:
    check_type(name, value, (list, tuple), "a list of strings")
    for index, item in enumerate(value):
        check_type(f"{name}[{index}]", item, str, "a string")
        if not item:
            raise ManifestError(f"{name}[{index}]", "must not be empty")
    if not value and not allow_empty:
        raise ManifestError(name, "must list at least one entry")
    return tuple(value)
