"""IAM execution roles for Lambda functions, created and updated only when they differ."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

INLINE_POLICY_NAME = "lambdapipe-permissions"


@dataclass(frozen=True)
class RoleState:
    """What ensuring a role did: its ARN and whether any write call was needed."""

    arn: str
    changed: bool


class IamHook(AwsBaseHook):
    """Thin wrapper around the IAM client for the execution roles lambdapipe deploys."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "iam"
        super().__init__(*args, **kwargs)

    def ensure_execution_role(
        self,
        role_name: str,
        trust_policy: dict[str, Any],
        inline_policy: dict[str, Any],
    ) -> RoleState:
        """Make the role match its trust policy and its one inline policy; only reads when they already do."""
        changed = False
        role = self._get_role(role_name)
        if role is None:
            role = self.conn.create_role(
                RoleName=role_name,
                AssumeRolePolicyDocument=json.dumps(trust_policy),
                Description="Lambda execution role managed by lambdapipe",
            )["Role"]
            changed = True
        elif _policy_document(role.get("AssumeRolePolicyDocument")) != trust_policy:
            self.conn.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust_policy))
            changed = True
        changed |= self._ensure_inline_policy(role_name, inline_policy)
        return RoleState(arn=role["Arn"], changed=changed)

    def _get_role(self, role_name: str) -> dict[str, Any] | None:
        try:
            return self.conn.get_role(RoleName=role_name)["Role"]
        except self.conn.exceptions.NoSuchEntityException:
            return None

    def _ensure_inline_policy(self, role_name: str, desired: dict[str, Any]) -> bool:
        try:
            current = self.conn.get_role_policy(RoleName=role_name, PolicyName=INLINE_POLICY_NAME)
            current_document = _policy_document(current["PolicyDocument"])
        except self.conn.exceptions.NoSuchEntityException:
            current_document = None
        if current_document == desired:
            return False
        self.conn.put_role_policy(
            RoleName=role_name, PolicyName=INLINE_POLICY_NAME, PolicyDocument=json.dumps(desired)
        )
        return True


def _policy_document(document: Any) -> Any:
    """IAM returns documents URL-encoded (the CLI/SDK sometimes decode them already)."""
    if isinstance(document, str):
        return json.loads(unquote(document))
    return document
