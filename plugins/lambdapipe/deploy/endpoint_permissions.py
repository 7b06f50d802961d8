"""The resource-policy statements that let an HTTP endpoint invoke the function: added when missing,
replaced when they say something else (an API recreated under a new id), removed with the endpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

API_GATEWAY = "apigateway.amazonaws.com"


@dataclass(frozen=True)
class Statement:
    """One ``AddPermission`` call: its id, action, principal and the condition parameter it carries."""

    sid: str
    action: str
    principal: str
    condition: dict[str, Any] = field(default_factory=dict)  # SourceArn, FunctionUrlAuthType, ...

    def fingerprint(self) -> tuple[str, str, tuple[str, ...]]:
        return (
            self.action,
            self.principal,
            tuple(sorted(str(value).lower() for value in self.condition.values())),
        )


def api_statement(sid: str, region: str, account: str, api_id: str) -> Statement:
    """API Gateway (any stage, method and route of the one API) may invoke."""
    source_arn = f"arn:aws:execute-api:{region}:{account}:{api_id}/*"
    return Statement(sid, "lambda:InvokeFunction", API_GATEWAY, {"SourceArn": source_arn})


def function_url_statements(sid: str) -> list[Statement]:
    """Anyone may call the URL (AuthType NONE): since October 2025 AWS wants both statements."""
    return [
        Statement(sid, "lambda:InvokeFunctionUrl", "*", {"FunctionUrlAuthType": "NONE"}),
        Statement(f"{sid}-invoke", "lambda:InvokeFunction", "*", {"InvokedViaFunctionUrl": True}),
    ]


class Permissions:
    """The function's (or its alias's) resource policy, as far as lambdapipe's statements go."""

    def __init__(
        self, lambda_client: Any, function_name: str, qualifier: str | None, wrote: Callable[[str], None]
    ) -> None:
        self.client = lambda_client
        self.function_name = function_name
        self.qualifier_kwargs = {"Qualifier": qualifier} if qualifier else {}
        self.wrote = wrote

    def current(self) -> dict[str, dict[str, Any]]:
        """Statement id -> statement, as Lambda reports them."""
        try:
            policy = self.client.get_policy(FunctionName=self.function_name, **self.qualifier_kwargs)[
                "Policy"
            ]
        except self.client.exceptions.ResourceNotFoundException:
            return {}
        return {statement.get("Sid", ""): statement for statement in json.loads(policy).get("Statement", [])}

    def ensure(self, statements: list[Statement]) -> None:
        current = self.current()
        for statement in statements:
            found = current.get(statement.sid)
            if found is not None and _fingerprint(found) == statement.fingerprint():
                continue
            if found is not None:
                self.remove([statement.sid])
            self.client.add_permission(
                FunctionName=self.function_name,
                StatementId=statement.sid,
                Action=statement.action,
                Principal=statement.principal,
                **statement.condition,
                **self.qualifier_kwargs,
            )
            self.wrote(f"permission {statement.sid}: {statement.principal} may {statement.action}")

    def remove(self, sids: list[str]) -> None:
        for sid in sids:
            try:
                self.client.remove_permission(
                    FunctionName=self.function_name, StatementId=sid, **self.qualifier_kwargs
                )
            except self.client.exceptions.ResourceNotFoundException:
                continue
            self.wrote(f"removed permission {sid}")


def _fingerprint(statement: dict[str, Any]) -> tuple[str, str, tuple[str, ...]]:
    """A reported statement in ``Statement.fingerprint``'s terms: AWS nests the condition under an
    operator (``ArnLike``, ``StringEquals``, ``Bool``), moto keeps some of them as plain keys."""
    principal = statement.get("Principal", "")
    if isinstance(principal, dict):
        principal = principal.get("Service") or principal.get("AWS") or ""
    values = [
        value for operator in (statement.get("Condition") or {}).values() for value in operator.values()
    ]
    values += [statement[key] for key in ("FunctionUrlAuthType", "InvokedViaFunctionUrl") if key in statement]
    return (
        str(statement.get("Action", "")),
        str(principal),
        tuple(sorted(str(value).lower() for value in values)),
    )
