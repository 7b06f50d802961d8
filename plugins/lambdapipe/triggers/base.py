"""What our non-waiter triggers share: the AWS connection parameters, serialized with their own fields."""

from __future__ import annotations

from typing import Any

from airflow.triggers.base import BaseTrigger


class AwsConnectionTrigger(BaseTrigger):
    """Carries ``aws_conn_id``, ``region_name``, ``verify`` and ``botocore_config`` like the provider's triggers.

    Subclasses set their own attributes, list them in ``fields``, and build hooks from ``hook_parameters``.
    """

    fields: tuple[str, ...] = ()

    def __init__(
        self,
        *,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__()
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    @property
    def hook_parameters(self) -> dict[str, Any]:
        return {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self.region_name,
            "verify": self.verify,
            "config": self.botocore_config,
        }

    def serialize(self) -> tuple[str, dict[str, Any]]:
        own = {name: getattr(self, name) for name in self.fields}
        connection = {
            name: getattr(self, name) for name in ("aws_conn_id", "region_name", "verify", "botocore_config")
        }
        return f"{type(self).__module__}.{type(self).__qualname__}", {**own, **connection}
