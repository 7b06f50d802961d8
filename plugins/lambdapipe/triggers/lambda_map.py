"""Runs a LambdaMapOperator fan-out in the triggerer, so no worker slot is held for its duration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TriggerEvent

from lambdapipe.fanout.engine import FanOutConfig, run_fan_out
from lambdapipe.triggers.base import AwsConnectionTrigger


class LambdaMapTrigger(AwsConnectionTrigger):
    """Fans out with aiobotocore and yields the run's summary (a few hundred bytes, never the results).

    A triggerer restart re-runs ``run()``: the fan-out resumes from the result parts already in S3.

    :param config: ``FanOutConfig.to_dict()``.
    """

    fields = ("config",)

    def __init__(self, *, config: dict[str, Any], **connection: Any) -> None:
        super().__init__(**connection)
        self.config = config

    async def run(self) -> AsyncIterator[TriggerEvent]:
        try:
            summary = await run_fan_out(FanOutConfig(**self.config), self.hook_parameters, self.log.info)
        except Exception as error:
            self.log.exception("fan-out of %s failed", self.config["function"]["name"])
            yield TriggerEvent({"status": "error", "message": f"{type(error).__name__}: {error}"})
            return
        yield TriggerEvent({"status": "success", "summary": summary})
