"""Layer folders: zipped as they are (bytecode aside), reproducibly, so the same files always give the
same layer.

A layer folder holds what Lambda mounts under ``/opt``: Python modules under ``python/``, Node.js
packages under ``nodejs/node_modules/``, anything else where the function expects it. The zip's
sha256 names its content, and a deploy publishes a layer version only for content it has not
published before (``lambdapipe.deploy.layers``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from lambdapipe.packaging.errors import ManifestError
from lambdapipe.packaging.excludes import BYTECODE_EXCLUDES, Excludes
from lambdapipe.packaging.files import collect_files
from lambdapipe.packaging.reproducible_zip import code_sha256, write_zip

LAYER_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+")
LAYER_NAME = re.compile(r"[A-Za-z0-9_-]{1,140}")
MAX_LAYERS = 5  # Lambda's limit per function
DIRECT_UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class LayerBuild:
    """One built layer folder: its name (the folder's), zip and content hash."""

    name: str
    zip_bytes: bytes = field(repr=False)
    code_sha256: str
    file_count: int


def is_layer_arn(entry: str) -> bool:
    return bool(LAYER_ARN.fullmatch(entry))


def check_layer_entry(name: str, entry: object) -> None:
    """A ``layers`` entry is a published layer version's ARN, or a folder path (checked at build)."""
    if not isinstance(entry, str) or not entry:
        raise ManifestError(name, f"must be a layer version ARN or a folder path (got {entry!r})")
    if entry.startswith("arn:") and not is_layer_arn(entry):
        raise ManifestError(
            name, f"is not a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION): {entry!r}"
        )


def build_layer(function_dir: Path, entry: str, field_name: str) -> LayerBuild:
    """Zip the folder ``entry`` (relative to the function folder) into a layer."""
    folder = (function_dir / entry).resolve()
    if not folder.is_dir():
        raise ManifestError(
            field_name,
            f"layer folder {entry!r} not found (looked in {folder})",
            function_dir / "function.toml",
        )
    if not LAYER_NAME.fullmatch(folder.name):
        raise ManifestError(
            field_name,
            f"a layer folder's name is the layer's: 1-140 letters, digits, - or _ (got {folder.name!r})",
        )
    files = collect_files(folder, Excludes(BYTECODE_EXCLUDES))  # all but bytecode: /opt as laid out
    if not files:
        raise ManifestError(field_name, f"layer folder {entry!r} has no files to publish")
    zip_bytes = write_zip(files)
    if len(zip_bytes) > DIRECT_UPLOAD_LIMIT_BYTES:
        raise ManifestError(
            field_name,
            f"layer {folder.name} is {len(zip_bytes):,} bytes zipped, above the 50 MB a deploy uploads",
        )
    return LayerBuild(folder.name, zip_bytes, code_sha256(zip_bytes), len(files))
