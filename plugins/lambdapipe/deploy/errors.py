"""The deploy's error, shared by the deployer and the HTTP endpoints it manages."""

from __future__ import annotations


class DeployError(Exception):
    """A deploy could not complete; the message names the function and what failed."""
