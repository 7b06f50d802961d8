"""Which files of a function folder stay out of its package (gitignore-style patterns).

- ``name`` or ``*.ext`` (no slash) matches a file or folder name at any depth;
- a leading ``/`` or a slash inside (``/events/``, ``docs/*.md``) anchors it at the folder root;
- a trailing ``/`` matches folders only, and everything below an excluded folder is excluded.

Patterns use :func:`fnmatch.fnmatchcase` (``*`` also crosses ``/`` in anchored patterns).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from posixpath import basename

# Metadata, test inputs, local installs, bytecode and hidden files (.env, .git, .DS_Store) never ship.
# requirements.txt and package.json stay: Node.js reads package.json ("type": "module").
DEFAULT_EXCLUDES = (
    "/function.toml",
    "/events/",
    "/tests/",
    "/node_modules/",
    "__pycache__/",
    "*.pyc",
    "*.pyo",
    ".*",
)

# Installed dependencies only lose bytecode: it is rebuilt on the target and differs per build.
BYTECODE_EXCLUDES = ("__pycache__/", "*.pyc", "*.pyo")


@dataclass(frozen=True)
class ExcludeRule:
    """One parsed pattern."""

    glob: str
    anchored: bool
    directories_only: bool

    @classmethod
    def parse(cls, pattern: str) -> ExcludeRule:
        directories_only = pattern.endswith("/")
        body = pattern.rstrip("/")
        anchored = "/" in body
        return cls(glob=body.lstrip("/"), anchored=anchored, directories_only=directories_only)

    def matches(self, relative_path: str, is_dir: bool) -> bool:
        if self.directories_only and not is_dir:
            return False
        subject = relative_path if self.anchored else basename(relative_path)
        return fnmatchcase(subject, self.glob)


class Excludes:
    """A set of rules; :meth:`excluded` is asked for every file and folder, top-down."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.rules = tuple(ExcludeRule.parse(pattern) for pattern in patterns)

    def excluded(self, relative_path: str, is_dir: bool) -> bool:
        return any(rule.matches(relative_path, is_dir) for rule in self.rules)
