"""A local AWS stack: moto's APIs plus a Lambda runtime that really executes function code.

``LocalAws`` is imported lazily so ``import lambdapipe_local`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lambdapipe_local.server import LocalAws

__all__ = ["LocalAws"]


def __getattr__(name: str) -> Any:
    if name == "LocalAws":
        from lambdapipe_local.server import LocalAws

        return LocalAws
    raise AttributeError(name)
