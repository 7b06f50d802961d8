"""Runs a LambdaMapOperator fan-out in the triggerer, so no worker slot is held for its duration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent


class LambdaMapTrigger(BaseTrigger):
    """Fans out with aiobotocore and yields the run's summary (a few hundred bytes, never the results).

    A triggerer restart re-runs ``run()``: the fan-out resumes from the result parts already in S3.

    :param config: ``FanOutConfig.to_dict()``.
    :param aws_conn_id: The Airflow connection for Lambda and S3.
    """

    def __init__(
        self,
        *,
        config: dict[str, Any],
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "config": self.config,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from lambdapipe.fanout.engine import FanOutConfig, run_fan_out

        hook_parameters = {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self.region_name,
            "verify": self.verify,
            "config": self.botocore_config,
        }
        try:
            summary = await run_fan_out(FanOutConfig(**self.config), hook_parameters, self.log.info)
        except Exception as error:
            self.log.exception("fan-out of %s failed", self.config["function"]["name"])
            yield TriggerEvent({"status": "error", "message": f"{type(error).__name__}: {error}"})
            return
        yield TriggerEvent({"status": "success", "summary": summary})
