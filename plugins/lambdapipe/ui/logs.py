"""One request's log lines from CloudWatch Logs, as Lambda wrote them to ``/aws/lambda/<function>``.

Only START, END and REPORT lines carry the request id (a handler's own ``print`` lines do not), so
the lines are found in two steps, as on AWS: the request's START line names its log stream, then that
stream is read from START to the request's REPORT line. A log stream belongs to one execution
environment, which runs one request at a time, so the lines in between are that request's.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.amazon.aws.hooks.logs import AwsLogsHook

from lambdapipe.ui.aws_config import ui_botocore_config

MAX_LINES = 2000


def request_log_lines(
    function_name: str, request_id: str, aws_conn_id: str | None = "aws_default"
) -> dict[str, Any]:
    """``{log_group, log_stream, lines: [{timestamp, message}], complete}``; no lines if none were found."""

    logs = AwsLogsHook(aws_conn_id=aws_conn_id, config=ui_botocore_config()).conn
    log_group = f"/aws/lambda/{function_name}"
    result: dict[str, Any] = {"log_group": log_group, "log_stream": None, "lines": [], "complete": False}
    try:
        marked = _filter(logs, logGroupName=log_group, filterPattern=f'"{request_id}"')
    except logs.exceptions.ResourceNotFoundException:
        return result
    start = next((e for e in marked if e["message"].startswith(f"START RequestId: {request_id}")), None)
    if start is None:
        return result
    stream = start["logStreamName"]
    window = _filter(logs, logGroupName=log_group, logStreamNames=[stream], startTime=start["timestamp"])
    lines, complete = _request_slice(window, request_id)
    result.update(
        log_stream=stream,
        lines=[{"timestamp": e["timestamp"], "message": e["message"]} for e in lines[:MAX_LINES]],
        complete=complete and len(lines) <= MAX_LINES,
    )
    return result


def _filter(logs: Any, **kwargs: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for page in logs.get_paginator("filter_log_events").paginate(**kwargs):
        events.extend(page["events"])
        if len(events) > MAX_LINES * 2:
            break
    return sorted(events, key=lambda event: (event["timestamp"], event.get("ingestionTime", 0)))


def _request_slice(events: list[dict[str, Any]], request_id: str) -> tuple[list[dict[str, Any]], bool]:
    """The events from the request's START line to its REPORT line; complete if REPORT was seen."""
    out: list[dict[str, Any]] = []
    for event in events:
        message = event["message"]
        if not out and not message.startswith(f"START RequestId: {request_id}"):
            continue
        out.append(event)
        if message.startswith(f"REPORT RequestId: {request_id}"):
            return out, True
    return out, False
