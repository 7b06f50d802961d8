"""Function folders made on the fly, for the packaging tests of every tier.

``make_function`` is a fixture: a tier's ``conftest.py`` imports it by name to offer it there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

MINIMAL_MANIFEST = 'runtime = "python3.11"\nhandler = "app.handler"\n'
MINIMAL_HANDLER = "def handler(event, context):\n    return {'ok': True}\n"

# make_function(name="fn", files={relative path: text or bytes}, manifest=MINIMAL_MANIFEST) -> folder
FunctionFactory = Callable[..., Path]


@pytest.fixture
def make_function(tmp_path: Path) -> FunctionFactory:
    """Create ``tmp_path/<name>/`` with a minimal Python function plus ``files`` (path -> text/bytes)."""

    def make(
        name: str = "fn", files: dict[str, str | bytes] | None = None, manifest: str = MINIMAL_MANIFEST
    ) -> Path:
        folder = tmp_path / name
        contents: dict[str, str | bytes] = {
            "function.toml": manifest,
            "app.py": MINIMAL_HANDLER,
            **(files or {}),
        }
        for relative, content in contents.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return folder

    return make
