"""Walk a folder into the list of files a package will hold, refusing anything unsafe.

Symlinks are followed only while they stay inside the folder (the package stores the target's
content under the link's name); one leaving it, a broken one or a loop is an error, as is any
file that is not a regular file, and a hard link whose other names are not all inside the folder
(it could be any file of the user's, such as their AWS credentials).
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
    _check_hard_links(files)
    return sorted(files, key=lambda item: item.arcname)


def _check_hard_links(files: list[PackageFile]) -> None:
    """Refuse a file with more links than the package has names for: the others lie outside."""
    names: dict[tuple[int, int], list[PackageFile]] = {}
    for package_file in files:
        info = package_file.source.stat()
        if info.st_nlink > 1:
            names.setdefault((info.st_dev, info.st_ino), []).append(package_file)
    for linked in names.values():
        links = linked[0].source.stat().st_nlink
        if links > len({package_file.source.resolve() for package_file in linked}):
            raise UnsafePathError(
                f"{linked[0].source}: a hard link to a file with {links} names, not all inside the folder; "
                "copy the file into the folder instead"
            )


def _check_symlink(path: Path, root: Path, root_real: Path) -> None:
    try:
        target = path.resolve(strict=True)
    except FileNotFoundError:
        raise PackagingError(f"{path}: broken symlink to {os.readlink(path)}") from None
    except (RuntimeError, OSError):  # Python 3.11 raises RuntimeError for a loop, later ones OSError
        raise UnsafePathError(f"{path}: symlink loop ({os.readlink(path)})") from None
    if not target.is_relative_to(root_real):
        raise UnsafePathError(
            f"{path}: symlink to {os.readlink(path)} leaves {root}; copy the file into the folder instead"
        )
