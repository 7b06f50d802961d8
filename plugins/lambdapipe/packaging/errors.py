"""Errors raised while reading function folders and building their packages.

Every message names the file (and, for manifests, the field) that was wrong, so a failed deploy
task points straight at the line to fix.
"""

from __future__ import annotations

from pathlib import Path


class PackagingError(Exception):
    """Base class: a function folder cannot be turned into a deployable package."""


class ManifestError(PackagingError):
    """A `function.toml`, a test event file or a `package.json` is invalid.

    Raised by the manifest dataclasses without a file (they may be built in code) and re-raised by
    the loader with the file and the full field path, e.g. ``permissions[1].actions``.
    """

    def __init__(self, field: str | None, problem: str, path: Path | str | None = None) -> None:
        self.field = field
        self.problem = problem
        self.path = path
        where = ": ".join(str(part) for part in (path, field) if part)
        super().__init__(f"{where}: {problem}" if where else problem)

    def located(self, path: Path | str) -> ManifestError:
        """The same error, placed in the file ``path``."""
        return ManifestError(self.field, self.problem, path)


class UnsafePathError(PackagingError):
    """A path would place a file outside the package (``..``, absolute, or a symlink leaving it)."""


class PackageTooLargeError(PackagingError):
    """The package exceeds one of Lambda's size limits."""


class DependencyInstallError(PackagingError):
    """pip/uv or npm failed to install a function's dependencies."""
