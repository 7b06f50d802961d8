"""Stand-ins for what the upload pipeline's steps look up in its tables."""

from __future__ import annotations

from lambdapipe_demo import uploads as steps


def nothing_recorded(uploads: list[steps.Upload]) -> set[tuple[str, str, str]]:
    """``claim_new``'s table lookup when the ``uploads`` table has no row for any of them."""
    return set()
