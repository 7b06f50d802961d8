"""Walk a folder into the list of files a package will hold, refusing anything unsafe.

Symlinks are followed only while they stay inside the folder (the package stores the target's
content under the link's name); one leaving it, a broken one or a loop is an error, as is any
file that is not a regular file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from lambdapipe.packaging.errors import PackagingError, UnsafePathError
from lambdapipe.packaging.excludes import Excludes


@dataclass(frozen=True)
class PackageFile:
    """One file of the package: where it goes in the zip and where its bytes come from."""

    arcname: str
    source: Path
    executable: bool
    size: int


def collect_files(root: Path, excludes: Excludes, prefix: str = "") -> list[PackageFile]:
    """Every file under ``root`` not excluded, named ``prefix + relative path``, sorted."""
    root_real = root.resolve()
    files: list[PackageFile] = []

    def visit(directory: Path, relative: str, ancestors: frozenset[Path]) -> None:
        for entry in sorted(os.scandir(directory), key=lambda item: item.name):
            child_relative = f"{relative}/{entry.name}" if relative else entry.name
            path = Path(entry.path)
            if entry.is_symlink():
                _check_symlink(path, root, root_real)
            is_dir = path.is_dir()
            if excludes.excluded(child_relative, is_dir):
                continue
            if is_dir:
                real = path.resolve()
                if real in ancestors:
                    raise UnsafePathError(f"{path}: symlink loop back to {real}")
                visit(path, child_relative, ancestors | {real})
                continue
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):
                raise PackagingError(f"{path}: not a regular file; a package holds only files and folders")
            files.append(PackageFile(prefix + child_relative, path, bool(info.st_mode & 0o111), info.st_size))

    visit(root, "", frozenset({root_real}))
    return sorted(files, key=lambda item: item.arcname)


def _check_symlink(path: Path, root: Path, root_real: Path) -> None:
    target = path.resolve()
    if not target.is_relative_to(root_real):
        raise UnsafePathError(
            f"{path}: symlink to {os.readlink(path)} leaves {root}; copy the file into the folder instead"
        )
    if not target.exists():
        raise PackagingError(f"{path}: broken symlink to {os.readlink(path)}")
