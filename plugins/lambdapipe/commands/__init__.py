"""Implementations of the ``lambdapipe`` subcommands; each module exposes ``main(argv) -> int``."""
