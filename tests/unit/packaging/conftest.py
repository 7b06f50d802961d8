"""Function folders made on the fly for the packaging tests."""

from tests.support.function_folders import make_function  # noqa: F401 (a fixture, found by name)
