"""Result parts are create-only: a run that finds its next part number taken writes the one after."""

from __future__ import annotations

import asyncio

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

from lambdapipe.fanout import run_store
from lambdapipe_local import LocalAws


def test_a_part_number_taken_by_a_twin_run_is_skipped_and_the_existing_part_kept(
    aws: LocalAws, aws_connection: str
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="parts")
    location = run_store.RunLocation("parts", "map/run")
    taken = location.part_key("results", 1, 1)
    s3.put_object(Bucket="parts", Key=taken, Body=b'{"index": 0}\n')

    async def write() -> tuple[int, int]:
        async with await AwsBaseHook(aws_conn_id=aws_connection, client_type="s3").get_async_conn() as client:
            written = await run_store.write_part(
                client, location, "results", 1, 1, [{"index": 1}], "sha", "write-1"
            )
            return written, await run_store.last_part(client, location, "results", 1)

    written, last = asyncio.run(write())

    assert (written, last) == (2, 2)
    assert s3.get_object(Bucket="parts", Key=taken)["Body"].read() == b'{"index": 0}\n'
    assert (
        s3.get_object(Bucket="parts", Key=location.part_key("results", 1, 2))["Body"].read()
        == b'{"index":1}\n'
    )
