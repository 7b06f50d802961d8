"""A healthy run's pyiceberg lines are logged below WARNING: FileIO loads at DEBUG, retried commits at INFO."""

from __future__ import annotations

import logging

import pytest

from lambdapipe.tables.library_logs import demote_healthy_run_lines


@pytest.fixture(autouse=True)
def filters_installed() -> None:
    demote_healthy_run_lines()
    demote_healthy_run_lines()  # a second call adds nothing


def test_a_fileio_load_is_a_debug_line(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("pyiceberg.io").info("Loaded FileIO: %s", "pyiceberg.io.pyarrow.PyArrowFileIO")
    assert caplog.records == []

    with caplog.at_level(logging.DEBUG, logger="pyiceberg.io"):
        logging.getLogger("pyiceberg.io").info("Loaded FileIO: %s", "pyiceberg.io.pyarrow.PyArrowFileIO")
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("DEBUG", "Loaded FileIO: pyiceberg.io.pyarrow.PyArrowFileIO")
    ]


def test_a_retried_concurrent_commit_is_an_info_line(caplog: pytest.LogCaptureFixture) -> None:
    table_log = logging.getLogger("pyiceberg.table")
    with caplog.at_level(logging.INFO):
        table_log.warning("Commit failed due to a concurrent update, retrying (%s/%s) in %s ms", 1, 4, 104)

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "Commit failed due to a concurrent update, retrying (1/4) in 104 ms")
    ]


def test_other_lines_of_the_same_loggers_keep_their_level(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("pyiceberg.table").warning("Something else went wrong")
        logging.getLogger("pyiceberg.io").info("Something worth knowing")

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "Something else went wrong"),
        ("INFO", "Something worth knowing"),
    ]
    assert len(logging.getLogger("pyiceberg.io").filters) == 1
