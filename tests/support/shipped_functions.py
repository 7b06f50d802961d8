"""Paths and in-process imports shared by the function tests."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from tests.support.handler_runners import Run

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "lambda_functions"
SHIPPED_FUNCTIONS = sorted(path.parent.name for path in FUNCTIONS_DIR.glob("*/function.toml"))

# invoke(name, events, env=None) -> Run: the packaged handler over the events, in one process.
Invoke = Callable[..., Run]


def import_function_modules(name: str, *modules: str) -> list[ModuleType]:
    """Import modules of a function folder in-process (pure logic), leaving sys.path and sys.modules clean.

    Function modules have short top-level names (``transform``, ``imaging``), so they must not
    linger where another test could import them by accident.
    """
    folder = FUNCTIONS_DIR / name
    sys.path.insert(0, str(folder))
    try:
        return [importlib.import_module(module) for module in modules]
    finally:
        sys.path.remove(str(folder))
        for loaded, module in list(sys.modules.items()):
            if Path(getattr(module, "__file__", None) or "/").is_relative_to(folder):
                del sys.modules[loaded]
