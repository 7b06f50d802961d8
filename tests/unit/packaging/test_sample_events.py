"""events/*.json: the saved test events a deploy smoke-tests with."""

from __future__ import annotations

import pytest

from lambdapipe.packaging import ManifestError, load_test_events
from tests.support.function_folders import FunctionFactory


def test_events_are_loaded_by_file_name_in_sorted_order(make_function: FunctionFactory) -> None:
    folder = make_function(
        files={
            "events/b-second.json": '{"n": 2}',
            "events/a-first.json": "[1, 2]",
            "events/notes.txt": "ignored",
        }
    )

    events = load_test_events(folder)

    assert list(events) == ["a-first", "b-second"]
    assert events == {"a-first": [1, 2], "b-second": {"n": 2}}


def test_folder_without_events_has_none(make_function: FunctionFactory) -> None:
    assert load_test_events(make_function()) == {}


def test_invalid_json_error_names_the_file_and_position(make_function: FunctionFactory) -> None:
    folder = make_function(files={"events/ok.json": "{}", "events/broken.json": '{\n  "a": 1\n  "b": 2\n}'})

    with pytest.raises(ManifestError, match=r"broken\.json: invalid JSON at line 3 column 3") as raised:
        load_test_events(folder)
    assert raised.value.path == folder / "events" / "broken.json"
