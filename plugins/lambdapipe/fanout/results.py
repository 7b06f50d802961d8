"""A finished fan-out's item results, read by the task after a ``LambdaMapOperator``.

The layout belongs to ``run_store``; DAGs read results through ``item_results`` instead of listing
the parts themselves.
"""

from __future__ import annotations

from typing import Any

from lambdapipe.fanout.run_store import RunLocation, decode_lines


def item_results(s3: Any, map_summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per item, by index: ``index``, ``batch``, ``status``, then ``result`` or ``error``.

    Each item's latest try wins. Only the parts written for the map's current input are read: a
    cleared run whose upstream returned other items left parts whose indexes name other items.
    """
    location = RunLocation.from_results_uri(map_summary["results_uri"])
    head = s3.head_object(Bucket=location.bucket, Key=location.input_key)
    input_sha256 = head.get("Metadata", {}).get("sha256")
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=location.results_prefix
        )
        for obj in page.get("Contents", [])
    ]
    lines: dict[int, dict[str, Any]] = {}
    for key in sorted(keys):  # try-NNN-part order: later tries win
        response = s3.get_object(Bucket=location.bucket, Key=key)
        if response.get("Metadata", {}).get("input-sha256") != input_sha256:
            continue
        lines.update((line["index"], line) for line in decode_lines(response["Body"].read()))
    return [lines[index] for index in sorted(lines)]
