"""A content-addressed cache of installed dependencies, shared by every build on the machine.

An entry is a folder named by the sha256 of everything that decides its contents (the
requirements or package files, the runtime, the architecture, the cache format). It is
installed into a temporary folder and renamed into place, so a crashed or concurrent build never
leaves a half-filled entry, and a later build with the same key reuses it as it is: the same
bytes, no network.

Location: ``$LAMBDAPIPE_CACHE_DIR/deps``, else ``$XDG_CACHE_HOME/lambdapipe/deps``, else
``~/.cache/lambdapipe/deps``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Bump when the layout or clean-up of entries changes, so old entries are not reused.
CACHE_FORMAT = "1"


@dataclass(frozen=True)
class InstalledDependencies:
    """A cache entry: its files go to the package root (Node.js entries hold ``node_modules/``)."""

    path: Path
    key: str
    cache_hit: bool


def default_cache_dir() -> Path:
    if root := os.environ.get("LAMBDAPIPE_CACHE_DIR"):
        return Path(root) / "deps"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lambdapipe" / "deps"


def cache_key(*parts: bytes | str) -> str:
    """sha256 over the parts, each length-prefixed so that no two part lists collide."""
    digest = hashlib.sha256(CACHE_FORMAT.encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def cached_install(
    cache_dir: Path, kind: str, key: str, install: Callable[[Path], None]
) -> InstalledDependencies:
    """Return the entry ``cache_dir/kind/key``, calling ``install(empty_folder)`` to fill it if missing."""
    entry = cache_dir.resolve() / kind / key
    if entry.is_dir():
        return InstalledDependencies(entry, key, cache_hit=True)
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=entry.parent))
    try:
        install(staging)
        try:
            staging.rename(entry)
        except OSError:
            if not entry.is_dir():  # not a concurrent build that finished first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return InstalledDependencies(entry, key, cache_hit=False)
