"""Route templates as API Gateway writes them: ``/users/{id}`` (one segment), ``/files/{path+}`` (the rest)."""

from __future__ import annotations

import re
from functools import cache


@cache
def _template_pattern(template: str) -> re.Pattern[str]:
    parts = []
    for segment in template.strip("/").split("/") if template.strip("/") else []:
        greedy = re.fullmatch(r"\{([A-Za-z0-9_.-]+)\+\}", segment)
        single = re.fullmatch(r"\{([A-Za-z0-9_.-]+)\}", segment)
        if greedy:
            parts.append(f"/(?P<{_group(greedy[1])}>.+)")
        elif single:
            parts.append(f"/(?P<{_group(single[1])}>[^/]+)")
        else:
            parts.append("/" + re.escape(segment))
    return re.compile("".join(parts) or "/?")


def _group(name: str) -> str:
    """A regex group name for a path parameter (dots and dashes are allowed in API Gateway's names)."""
    return "p_" + name.encode().hex()


def match(template: str, path: str) -> dict[str, str] | None:
    """The path parameters when ``path`` matches ``template``, else None."""
    found = _template_pattern(template).fullmatch(path.rstrip("/") or "/")
    if found is None:
        return None
    return {bytes.fromhex(key[2:]).decode(): value for key, value in found.groupdict().items()}


def specificity(template: str) -> tuple[int, ...]:
    """Higher for the route API Gateway prefers: compared segment by segment from the left, a literal
    beats ``{param}``, which beats ``{param+}``; then the longer template."""
    segments = [segment for segment in template.split("/") if segment]
    ranks = [0 if segment.endswith("+}") else 1 if segment.startswith("{") else 2 for segment in segments]
    return (*ranks, len(segments))
