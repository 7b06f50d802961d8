"""``item_results``: the task after a fan-out reads each item's latest result, for the current input only."""

from __future__ import annotations

import json

from lambdapipe.fanout.results import item_results
from lambdapipe.fanout.run_store import RunLocation
from lambdapipe_local import LocalAws

BUCKET = "map-results"


def _put(s3, key: str, lines: list[dict], metadata: dict[str, str]) -> None:
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=metadata)


def test_each_item_gets_its_latest_try_and_parts_of_another_input_are_ignored(aws: LocalAws) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    location = RunLocation.for_task(BUCKET, "lambdapipe/map", "dag", "run 1", "fan_out", -1)
    s3.put_object(Bucket=BUCKET, Key=location.input_key, Body=b"{}\n", Metadata={"sha256": "current"})
    current, earlier = {"input-sha256": "current"}, {"input-sha256": "earlier-input"}
    # Try 2's part sorts after try 1's on a later page of keys: the later try must win.
    _put(
        s3,
        location.part_key("results", 1, 1),
        [{"index": 0, "status": "failed"}, {"index": 1, "status": "succeeded"}],
        current,
    )
    _put(
        s3, location.part_key("results", 2, 1), [{"index": 0, "status": "succeeded", "result": "ok"}], current
    )
    _put(s3, location.part_key("results", 3, 1), [{"index": 2, "status": "succeeded"}], earlier)

    lines = item_results(s3, {"results_uri": location.uri(location.results_prefix)})

    assert [(line["index"], line["status"]) for line in lines] == [(0, "succeeded"), (1, "succeeded")]
    assert lines[0]["result"] == "ok"
