"""Resource wildcards need the same opt-in as action wildcards (finding 2 of the security issue).

``resources = ["*"]`` used to pass validation without ``allow_wildcard``, and the shipped
``image_resize`` role could read every object of every bucket (the table warehouse included) and
write ``resized/`` in any bucket.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdapipe.packaging import ManifestError, load_manifest
from lambdapipe.packaging.lambda_api import execution_role_policy

REPO = Path(__file__).resolve().parents[3]
MANIFEST = 'runtime = "python3.11"\nhandler = "app.handler"\n'


def _manifest_with(tmp_path: Path, permission: str) -> Path:
    folder = tmp_path / "reader"
    folder.mkdir(parents=True)
    (folder / "function.toml").write_text(
        f'{MANIFEST}\n[[permissions]]\nactions = ["s3:GetObject"]\n{permission}'
    )
    return folder


@pytest.mark.parametrize(
    "resource",
    [
        "*",
        "arn:aws:s3:::*/*",
        "arn:aws:s3:::*/resized/*",
        "arn:aws:s3:::upload*/*",
        "arn:aws:dynamodb:*:*:table/*",
        "arn:aws:dynamodb:us-east-1:*:table/orders",  # any account's table of that name
        "arn:aws:sqs:*:000000000000:orders",  # any region
        "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/*",  # every function's logs
        "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/pay*:*",
    ],
)
def test_a_wildcard_resource_without_the_opt_in_is_refused_naming_the_statement(
    tmp_path: Path, resource: str
) -> None:
    folder = _manifest_with(tmp_path, f'resources = ["{resource}"]\n')

    with pytest.raises(ManifestError) as raised:
        load_manifest(folder)

    assert f"permissions[0].resources[0]: wildcard resource {resource!r} is not least privilege" in str(
        raised.value
    )
    assert str(raised.value).startswith(str(folder / "function.toml"))


@pytest.mark.parametrize(
    "resource",
    [
        "arn:aws:s3:::uploads/incoming/*",
        "arn:aws:dynamodb:us-east-1:000000000000:table/orders/index/*",
        "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/orders:*",
    ],
)
def test_a_pattern_inside_one_named_resource_is_not_a_wildcard(tmp_path: Path, resource: str) -> None:
    manifest = load_manifest(_manifest_with(tmp_path, f'resources = ["{resource}"]\n'))

    assert manifest.permissions[0].resources == (resource,)


def test_a_key_prefix_is_not_a_wildcard_and_the_opt_in_allows_one(tmp_path: Path) -> None:
    prefix = load_manifest(
        _manifest_with(tmp_path / "prefix", 'resources = ["arn:aws:s3:::uploads/incoming/*"]\n')
    )
    opted_in = load_manifest(
        _manifest_with(tmp_path / "opt-in", 'resources = ["*"]\nallow_wildcard = true\n')
    )

    assert prefix.permissions[0].resources == ("arn:aws:s3:::uploads/incoming/*",)
    assert opted_in.permissions[0].resources == ("*",)


def test_the_shipped_image_resize_role_reads_and_writes_only_the_uploads_bucket() -> None:
    policy = execution_role_policy(load_manifest(REPO / "lambda_functions" / "image_resize"))
    granted = {
        statement["Sid"]: (statement["Action"], statement["Resource"]) for statement in policy["Statement"]
    }

    assert granted["ReadUploads"] == (["s3:GetObject"], ["arn:aws:s3:::uploads/*"])
    assert granted["WriteResizedCopies"] == (["s3:PutObject"], ["arn:aws:s3:::uploads/resized/*"])


def test_no_shipped_function_opts_into_wildcards() -> None:
    manifests = [
        load_manifest(folder) for folder in sorted((REPO / "lambda_functions").iterdir()) if folder.is_dir()
    ]

    assert manifests, "the shipped functions are found"
    assert [m.name for m in manifests for p in m.permissions if p.allow_wildcard] == []


def test_the_shipped_order_transform_role_reads_staged_parts_and_writes_only_their_answers() -> None:
    policy = execution_role_policy(load_manifest(REPO / "lambda_functions" / "order_transform"))
    granted = {
        statement["Sid"]: (statement["Action"], statement["Resource"]) for statement in policy["Statement"]
    }

    extract = "arn:aws:s3:::lambdapipe-pipeline/lambdapipe/extract"
    assert granted["ReadStagedParts"] == (["s3:GetObject"], [f"{extract}/*/items/*"])
    assert granted["WritePartAnswers"] == (["s3:PutObject"], [f"{extract}/*/output/*"])
