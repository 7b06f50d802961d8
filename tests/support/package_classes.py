"""The classes a package defines, found by walking its modules: tests that must cover every operator,
sensor or trigger discover them here, so a new class is covered (or fails loudly) without a list."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from types import ModuleType


def classes_defined_in(packages: tuple[ModuleType, ...], suffixes: tuple[str, ...]) -> list[type]:
    """Classes defined (not imported) in the packages' modules whose names end in a suffix, by name."""
    found: dict[str, type] = {}
    for package in packages:
        for module_info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
            for name, value in vars(module).items():
                if inspect.isclass(value) and value.__module__ == module.__name__ and name.endswith(suffixes):
                    found[name] = value
    return [found[name] for name in sorted(found)]
