"""Whatever a test here fails at, what it started is ended before the next test runs."""

from collections.abc import Iterator

import pytest

from tests.e2e.processes.helpers import end_what_tests_started


@pytest.fixture(autouse=True)
def _end_what_the_test_started() -> Iterator[None]:
    yield
    end_what_tests_started()
