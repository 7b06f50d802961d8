"""Layer folders build to the same zip whatever the files' times; manifest entries are checked."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from lambdapipe.packaging import ManifestError
from lambdapipe.packaging.layers import build_layer
from lambdapipe.packaging.manifest import manifest_from_table

ARN = "arn:aws:lambda:us-east-1:123456789012:layer:common:3"


def layer_folder(root: Path) -> Path:
    folder = root / "common"
    (folder / "python" / "pkg").mkdir(parents=True)
    (folder / "python" / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (folder / "python" / "words.py").write_text("GREETING = 'hi'\n")
    (folder / "python" / "__pycache__").mkdir()
    (folder / "python" / "__pycache__" / "words.cpython-311.pyc").write_bytes(b"\x00")
    return folder


def test_a_layer_builds_to_the_same_bytes_whatever_the_files_times(tmp_path: Path) -> None:
    folder = layer_folder(tmp_path)
    first = build_layer(tmp_path, "common", "layers[0]")
    for path in folder.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))

    second = build_layer(tmp_path, "common", "layers[0]")

    assert (first.name, first.file_count) == ("common", 2), "bytecode is left out, as from functions"
    assert second.code_sha256 == first.code_sha256 and second.zip_bytes == first.zip_bytes


def test_changed_content_changes_the_layers_hash(tmp_path: Path) -> None:
    folder = layer_folder(tmp_path)
    before = build_layer(tmp_path, "common", "layers[0]").code_sha256
    (folder / "python" / "words.py").write_text("GREETING = 'hello'\n")

    assert build_layer(tmp_path, "common", "layers[0]").code_sha256 != before


@pytest.mark.parametrize(
    ("layers", "field", "problem"),
    [
        ([ARN] * 6, "layers", "Lambda allows 5"),
        (["arn:aws:lambda:us-east-1:123456789012:layer:common"], "layers[0]", "not a layer version ARN"),
        ([3], "layers[0]", "must be a string"),
    ],
)
def test_bad_layer_entries_are_named(layers: list[object], field: str, problem: str) -> None:
    with pytest.raises(ManifestError, match=f"^{re.escape(field)}: .*{problem}"):
        manifest_from_table({"runtime": "python3.11", "handler": "app.handler", "layers": layers}, "fn")
