"""Saved test events, ``lambda_functions/<name>/events/*.json``, like the Lambda console's.

A deploy invokes each one against the new version before moving the alias (a smoke test), and the
CLI's ``invoke --event`` reads the same files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lambdapipe.packaging.errors import ManifestError

EVENTS_DIR = "events"


def load_test_events(function_dir: Path | str) -> dict[str, Any]:
    """Map each ``events/<name>.json`` to its parsed JSON, sorted by name; ``{}`` without the folder."""
    events: dict[str, Any] = {}
    for path in sorted((Path(function_dir) / EVENTS_DIR).glob("*.json")):
        try:
            events[path.stem] = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ManifestError(
                None, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", path
            ) from None
        except UnicodeDecodeError as exc:
            raise ManifestError(None, f"not UTF-8 text: {exc.reason} at byte {exc.start}", path) from None
    return events
