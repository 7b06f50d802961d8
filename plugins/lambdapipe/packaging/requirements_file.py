"""Read a ``requirements.txt`` with the files it includes, and refuse what would fetch or build code
from elsewhere.

A requirements file can redirect pip to any index (``--index-url``, ``--extra-index-url``,
``--find-links``), trust a host without TLS (``--trusted-host``), name a URL or an editable VCS
checkout, or turn off wheels-only (``--no-binary``, whose sdists run their ``setup.py`` in the
build). pip accepts many spellings of each (abbreviated long options, values attached to short
ones), so options are checked against an allowlist rather than a blocklist: anything else, and any
URL, is refused unless the manifest sets ``package_sources = true`` under ``[dependencies]``.
``-r``/``-c`` includes are followed, so the cache key and the check cover every file pip will read.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from lambdapipe.packaging.errors import ManifestError

INCLUDE_OPTIONS = {"-r": "-r", "--requirement": "-r", "-c": "-c", "--constraint": "-c"}
# Options that change neither where packages come from nor whether their build code runs (not
# --only-binary, whose ":none:" would turn wheels-only off).
SAFE_OPTIONS = frozenset({"--require-hashes", "--pre", "--prefer-binary", "--no-index"})
REQUIREMENT_LINE_OPTIONS = frozenset({"--hash"})
_ENV_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)\}")  # pip expands only this form


@dataclass(frozen=True)
class RequirementLine:
    """One logical line (continuations joined, comment dropped) of one requirements file."""

    path: Path
    number: int
    text: str

    @cached_property  # read by both include() and the source check
    def tokens(self) -> list[str]:
        try:
            return shlex.split(self.text, comments=False, posix=True)
        except ValueError as error:
            raise ManifestError(f"line {self.number}", f"cannot be read: {error}", self.path) from None

    def include(self) -> str | None:
        """The file a ``-r``/``-c`` line names (``-r x``, ``-rx``, ``--requirement=x``), else None."""
        tokens = self.tokens
        if not tokens:
            return None
        option, _, attached = tokens[0].partition("=")
        if option in INCLUDE_OPTIONS:
            return attached or (tokens[1] if len(tokens) > 1 else None)
        if tokens[0][:2] in ("-r", "-c") and not tokens[0].startswith("--"):
            return tokens[0][2:]
        return None


def read_requirements(path: Path, _seen: frozenset[Path] = frozenset()) -> list[RequirementLine]:
    """Every line of ``path`` and of the local files it includes, in pip's reading order."""
    path = path.resolve()
    if path in _seen:
        return []
    if not path.is_file():
        raise ManifestError(None, "included requirements file not found", path)
    lines: list[RequirementLine] = []
    for number, text in _logical_lines(_decode(path.read_bytes())):
        line = RequirementLine(path, number, text)
        lines.append(line)
        included = line.include()
        if included and "://" not in included:  # a URL include is the source check's to refuse
            expanded = _ENV_VARIABLE.sub(lambda match: os.environ.get(match[1], match[0]), included)
            lines += read_requirements(path.parent / expanded, _seen | {path})
    return lines


def check_package_sources(lines: list[RequirementLine], allowed: bool) -> None:
    """Refuse a line that names a source or a build other than the default index's wheels."""
    if allowed:
        return
    for line in lines:
        problem = _source_problem(line)
        if problem:
            raise ManifestError(
                f"line {line.number}",
                f"{problem} ({line.text!r}); set package_sources = true under [dependencies] in "
                "function.toml to allow it",
                line.path,
            )


def _source_problem(line: RequirementLine) -> str | None:
    if "://" in line.text:
        return "a URL downloads from outside the package index"
    tokens = line.tokens
    if not tokens or line.include() is not None:
        return None
    if tokens[0].startswith("-"):
        option = tokens[0].partition("=")[0]
        return None if option in SAFE_OPTIONS else f"{option} is not an option a deploy allows"
    for token in tokens[1:]:
        option = token.partition("=")[0]
        if token.startswith("-") and option not in REQUIREMENT_LINE_OPTIONS:
            return f"{option} is not an option a deploy allows"
    return None


def _decode(data: bytes) -> str:
    """As pip reads it: UTF-8 with or without a byte-order mark, else Latin-1 (any byte is valid)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) per logical line: ``\\`` continuations joined, comments dropped."""
    found: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\") and not re.match(r"\s*#", raw):  # as pip: a comment line ends here
            pending += raw[:-1]  # pip joins without a space: an option may be split across lines
            continue
        joined = re.sub(r"(^|\s)#.*$", "", pending + raw).strip()
        pending = ""
        if joined:
            found.append((start, joined))
    if pending.strip():
        found.append((start, pending.strip()))
    return found
