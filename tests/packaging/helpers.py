"""Constants shared by the packaging tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

MINIMAL_MANIFEST = 'runtime = "python3.11"\nhandler = "app.handler"\n'
MINIMAL_HANDLER = "def handler(event, context):\n    return {'ok': True}\n"

# make_function(name="fn", files={relative path: text or bytes}, manifest=MINIMAL_MANIFEST) -> folder
FunctionFactory = Callable[..., Path]
