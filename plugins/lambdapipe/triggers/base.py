"""What our non-waiter triggers share: the AWS connection parameters, serialized with their own fields.

Event triggers (``AssetWatcher``) mix it in before ``BaseEventTrigger``:
``class MyTrigger(AwsConnectionTrigger, BaseEventTrigger)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook


class AwsConnectionTrigger(BaseTrigger):
    """Carries ``aws_conn_id``, ``region_name``, ``verify`` and ``botocore_config`` like the provider's triggers.

    Subclasses set their own attributes, list them in ``fields``, and build hooks with ``hook(...)`` (or
    pass ``hook_parameters`` on to code that builds its own).
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

    def hook(self, client_type: str) -> AwsBaseHook:
        """A hook on this trigger's connection, for ``await hook.get_async_conn()``."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        return AwsBaseHook(client_type=client_type, **self.hook_parameters)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        own = {name: getattr(self, name) for name in self.fields}
        connection = {
            name: getattr(self, name) for name in ("aws_conn_id", "region_name", "verify", "botocore_config")
        }
        return f"{type(self).__module__}.{type(self).__qualname__}", {**own, **connection}
