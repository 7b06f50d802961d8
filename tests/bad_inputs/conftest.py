"""The packaging tests' function-folder factory, for the packaging cases of the corpus."""

from tests.packaging.conftest import make_function  # noqa: F401 (a fixture, found by name)
