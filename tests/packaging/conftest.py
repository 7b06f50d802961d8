"""Function folders made on the fly for the packaging tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.packaging.helpers import MINIMAL_HANDLER, MINIMAL_MANIFEST, FunctionFactory


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
