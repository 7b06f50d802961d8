"""Small helpers for tests (and benchmarks) that drive the local stack: zip a folder, make a streamed
table, invoke, wait."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Small Python and Node.js handlers (echo, counters, imports) the local-stack tests and benchmarks deploy.
PROBE_FUNCTIONS = Path(__file__).resolve().parent / "probe_functions"


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def create_streamed_table(dynamodb: Any, name: str, key: str) -> str:
    """An on-demand table with one string hash key and a NEW_IMAGE stream; returns the stream's ARN."""
    table = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return table["TableDescription"]["LatestStreamArn"]


def invoke_json(client: Any, name: str, event: Any, **kwargs: Any) -> tuple[dict, Any]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **kwargs)
    return response, json.loads(response["Payload"].read() or b"null")


def wait_until(condition: Callable[[], Any], timeout_s: float = 20.0, what: str = "condition") -> Any:
    """Poll until ``condition()`` is truthy; fail naming what never happened (no timing assertion)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
