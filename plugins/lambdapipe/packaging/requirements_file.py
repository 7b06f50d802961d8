"""Read a ``requirements.txt`` with the files it includes, and find where it tells pip to fetch from.

A requirements file can redirect pip to any index (``--index-url``, ``--extra-index-url``,
``--find-links``), trust a host without TLS (``--trusted-host``) or name a URL to download: in a
deploy, that is code from anywhere running in the build. Such lines are refused unless the manifest
sets ``package_sources = true`` under ``[dependencies]``. ``-r``/``-c`` includes are followed, so
the cache key and the check cover every file pip will read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lambdapipe.packaging.errors import ManifestError

SOURCE_OPTIONS = ("-i", "--index-url", "--extra-index-url", "--trusted-host", "-f", "--find-links")
INCLUDE_OPTIONS = ("-r", "--requirement", "-c", "--constraint")
_OPTION = re.compile(r"^(?P<option>--?[A-Za-z][\w-]*)(?:[= ]\s*(?P<value>\S+))?")
_URL = re.compile(r"(^|@\s*|\s)(https?|ftp|file|git\+\w+|hg\+\w+|svn\+\w+|bzr\+\w+)://", re.IGNORECASE)


@dataclass(frozen=True)
class RequirementLine:
    """One logical line (continuations joined, comment dropped) of one requirements file."""

    path: Path
    number: int
    text: str


def read_requirements(path: Path, _seen: frozenset[Path] = frozenset()) -> list[RequirementLine]:
    """Every line of ``path`` and of the files it includes (``-r``/``-c``), in pip's reading order."""
    path = path.resolve()
    if path in _seen:
        return []
    if not path.is_file():
        raise ManifestError(None, "included requirements file not found", path)
    lines: list[RequirementLine] = []
    for number, text in _logical_lines(path.read_text(encoding="utf-8")):
        lines.append(RequirementLine(path, number, text))
        option = _OPTION.match(text)
        if option and option["option"] in INCLUDE_OPTIONS and option["value"]:
            lines += read_requirements(path.parent / option["value"], _seen | {path})
    return lines


def check_package_sources(lines: list[RequirementLine], allowed: bool) -> None:
    """Refuse a line naming an index, a trusted host or a URL, unless the manifest allows them."""
    if allowed:
        return
    for line in lines:
        option = _OPTION.match(line.text)
        if option and option["option"] in SOURCE_OPTIONS:
            named = f"{option['option']} names a package source"
        elif not option and _URL.search(line.text):
            named = "a URL requirement downloads from outside the package index"
        else:
            continue
        raise ManifestError(
            f"line {line.number}",
            f"{named} ({line.text!r}); set package_sources = true under [dependencies] in "
            "function.toml to allow it",
            line.path,
        )


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) per logical line: ``\\`` continuations joined, comments dropped."""
    found: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        line = re.sub(r"(^|\s)#.*$", "", raw)
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        joined = (pending + line).strip()
        pending = ""
        if joined:
            found.append((start, joined))
    if pending.strip():
        found.append((start, pending.strip()))
    return found
