"""Provider modules stay small enough to read in one sitting: none over 400 lines.

A module that grows past that holds more than one job; split it (the fan-out engine's GC freeze
moved to ``fanout/gc_freeze.py`` when the engine reached 401 lines).
"""

from __future__ import annotations

from pathlib import Path

PROVIDER = Path(__file__).resolve().parents[2] / "plugins" / "lambdapipe"
MAX_LINES = 400


def test_no_provider_module_is_over_400_lines() -> None:
    sizes = {
        path.relative_to(PROVIDER).as_posix(): len(path.read_text().splitlines())
        for path in PROVIDER.rglob("*.py")
    }

    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}
