"""An immutable snapshot of what the local runtime needs from a moto Lambda function version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FunctionSpec:
    """Copied out of moto's mutable model so a running environment never sees a half-applied update.

    ``function_arn`` is the unqualified ARN; ``version`` is ``$LATEST`` or a published version number.
    """

    function_name: str
    function_arn: str
    version: str
    runtime: str
    handler: str
    memory_size: int
    timeout: int
    region: str
    account_id: str
    code_sha256: str
    code: bytes = field(repr=False)
    environment: dict[str, str] = field(default_factory=dict)
    layers: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    reserved_concurrency: int | None = None

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def pool_key(self) -> tuple[str, str, str]:
        """Environments are reused only for the same version and the same code and configuration."""
        return (self.function_arn, self.version, self.fingerprint)

    @property
    def fingerprint(self) -> str:
        layers = ",".join(sha for sha, _ in self.layers)
        env = ",".join(f"{k}={v}" for k, v in sorted(self.environment.items()))
        return f"{self.code_sha256}|{self.runtime}|{self.handler}|{self.memory_size}|{self.timeout}|{env}|{layers}"

    @classmethod
    def from_moto(cls, fn: Any, layer_lookup: Any) -> FunctionSpec:
        """Build from a ``moto.awslambda.models.LambdaFunction``; ``layer_lookup(arn)`` returns a LayerVersion."""
        layers = []
        for layer in fn.layers:
            layer_version = layer_lookup(layer["Arn"])
            layers.append((layer_version.code_sha_256, layer_version.code_bytes))
        return cls(
            function_name=fn.function_name,
            function_arn=f"arn:aws:lambda:{fn.region}:{fn.account_id}:function:{fn.function_name}",
            version=str(fn.version),
            runtime=fn.run_time or "",
            handler=fn.handler or "",
            memory_size=int(fn.memory_size),
            timeout=int(fn.timeout),
            region=fn.region,
            account_id=fn.account_id,
            code_sha256=fn.code_sha_256,
            code=fn.code_bytes,
            environment=dict(fn.environment_vars or {}),
            layers=tuple(layers),
            reserved_concurrency=None if fn.reserved_concurrency is None else int(fn.reserved_concurrency),
        )
