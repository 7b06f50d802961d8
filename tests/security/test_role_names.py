"""Each function gets its own execution role (finding 6 of the security issue), however long its name.

IAM role names stop at 64 characters and ``lambdapipe-`` takes 11: two function names that agree on
their first 53 characters used to get one role, and each deploy replaced the other's permissions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote

import pytest

from lambdapipe.deployment import FunctionDeployer
from lambdapipe.hooks.iam import INLINE_POLICY_NAME, IamHook
from lambdapipe.hooks.lambda_function import LambdaHook
from lambdapipe.local import LocalAws
from lambdapipe.packaging import Manifest, ManifestError
from lambdapipe.packaging.lambda_api import execution_role_name
from tests.deploy.helpers import copy_function

SHARED_BEGINNING = "orders_enrichment_for_the_european_region_and_its_sub"  # 53 characters


def _permission(bucket: str) -> str:
    return f'\n[[permissions]]\nactions = ["s3:GetObject"]\nresources = ["arn:aws:s3:::{bucket}/*"]\n'


def _deploy(aws: LocalAws, tmp_path: Path, name: str, bucket: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Deploy hello_world as ``name`` reading ``bucket``; the role name its function runs as."""
    for key, value in {**aws.environ(), "AWS_CONFIG_FILE": os.devnull}.items():
        monkeypatch.setenv(key, value)
    folder = copy_function("hello_world", tmp_path / name)
    with (folder / "function.toml").open("a", encoding="utf-8") as manifest:
        manifest.write(_permission(bucket))
    FunctionDeployer(
        function_dir=folder, lambda_hook=LambdaHook(aws_conn_id=None), iam_hook=IamHook(aws_conn_id=None)
    ).run()
    role_arn = aws.client("lambda").get_function(FunctionName=name)["Configuration"]["Role"]
    return role_arn.rsplit("/", 1)[-1]


def _readable_buckets(aws: LocalAws, role_name: str) -> list[str]:
    document = aws.client("iam").get_role_policy(RoleName=role_name, PolicyName=INLINE_POLICY_NAME)
    policy = document["PolicyDocument"]
    policy = json.loads(unquote(policy)) if isinstance(policy, str) else policy
    return [
        resource
        for statement in policy["Statement"]
        if "s3:GetObject" in statement["Action"]
        for resource in statement["Resource"]
    ]


def test_two_long_names_with_the_same_beginning_get_two_roles_each_with_its_own_policy(
    aws: LocalAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reader = _deploy(aws, tmp_path, f"{SHARED_BEGINNING}_reader", "reader-bucket", monkeypatch)
    writer = _deploy(aws, tmp_path, f"{SHARED_BEGINNING}_writer", "writer-bucket", monkeypatch)

    assert reader != writer
    assert max(len(reader), len(writer)) <= 64
    assert _readable_buckets(aws, reader) == ["arn:aws:s3:::reader-bucket/*"]
    assert _readable_buckets(aws, writer) == ["arn:aws:s3:::writer-bucket/*"]


def test_role_names_are_stable_and_short_names_keep_their_plain_form() -> None:
    long_name = f"{SHARED_BEGINNING}_reader"

    assert execution_role_name("image_resize") == "lambdapipe-image_resize"  # existing roles are kept
    assert execution_role_name(long_name) == execution_role_name(long_name)
    assert execution_role_name(long_name).startswith("lambdapipe-" + long_name[:40])


def test_no_function_name_maps_to_anothers_hashed_role_name() -> None:
    hashed = execution_role_name("a" * 60)
    lookalike = hashed.removeprefix("lambdapipe-")  # a name that would get this role unhashed

    assert len(hashed) == 64
    with pytest.raises(ManifestError, match="must be 1-64 letters, digits, - or _"):
        Manifest(name=lookalike, runtime="python3.11", handler="app.handler")
