"""Each function gets its own execution role (finding 6 of the security issue), however long its name.

IAM role names stop at 64 characters and ``lambdapipe-`` takes 11: two function names that agree on
their first 53 characters used to get one role, and each deploy replaced the other's permissions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lambdapipe.deploy.deployer import DeployResult
from lambdapipe.packaging import Manifest, ManifestError
from lambdapipe.packaging.lambda_api import execution_role_name
from lambdapipe_local import LocalAws
from tests.support.deploy_folders import inline_policy, role_name, with_permissions

SHARED_BEGINNING = "orders_enrichment_for_the_european_region_and_its_sub"  # 53 characters


def _permission(bucket: str) -> str:
    return f'\n[[permissions]]\nactions = ["s3:GetObject"]\nresources = ["arn:aws:s3:::{bucket}/*"]\n'


def _readable_buckets(aws: LocalAws, function_name: str) -> list[str]:
    return [
        resource
        for statement in inline_policy(aws, function_name)["Statement"]
        if "s3:GetObject" in statement["Action"]
        for resource in statement["Resource"]
    ]


def test_two_long_names_with_the_same_beginning_get_two_roles_each_with_its_own_policy(
    aws: LocalAws, deploy: Callable[..., DeployResult], tmp_path: Path
) -> None:
    reader, writer = f"{SHARED_BEGINNING}_reader", f"{SHARED_BEGINNING}_writer"
    deploy(with_permissions(tmp_path, reader, _permission("reader-bucket")), smoke_test=False)
    deploy(with_permissions(tmp_path, writer, _permission("writer-bucket")), smoke_test=False)

    assert role_name(aws, reader) != role_name(aws, writer)
    assert max(len(role_name(aws, reader)), len(role_name(aws, writer))) <= 64
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
