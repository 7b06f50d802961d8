"""A deploy creates, then changes only what differs, publishes a version and moves the alias last.

Every test deploys on the local stack, which really runs the uploaded code, and proves what the
deploy did by what the server received (``aws.calls``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambdapipe.deploy.deployer import DeployResult
from lambdapipe.deploy.smoke_tests import SmokeTestFailed
from lambdapipe.packaging import build_package, load_test_events
from lambdapipe.packaging.lambda_api import MANAGED_TAG, MANAGED_TAG_VALUE
from lambdapipe_local import LocalAws
from tests.support.aws_calls import write_calls
from tests.support.deploy_folders import copy_function, replace_in_file
from tests.support.local_stack import invoke_json
from tests.support.shipped_functions import FUNCTIONS_DIR

Deploy = Callable[..., DeployResult]
HELLO_WORLD = FUNCTIONS_DIR / "hello_world"


def alias_version(client: Any, function_name: str, alias: str = "live") -> str:
    return client.get_alias(FunctionName=function_name, Name=alias)["FunctionVersion"]


def test_first_deploy_creates_role_function_version_1_and_alias_and_runs_every_smoke_test(
    aws: LocalAws, deploy: Deploy, lambda_client: Any
) -> None:
    result = deploy(HELLO_WORLD)

    configuration = lambda_client.get_function_configuration(FunctionName="hello_world")
    role = aws.client("iam").get_role(RoleName="lambdapipe-hello_world")["Role"]
    events = sorted(load_test_events(HELLO_WORLD))
    assert result.to_dict() == {
        "function_name": "hello_world",
        "function_arn": configuration["FunctionArn"],
        "version": "1",
        "code_sha256": configuration["CodeSha256"],
        "changed": True,
        "alias": "live",
        "smoke_tests": events,
        "endpoints": {},  # no [http] in its function.toml
        "deployment": [],  # a first deploy moves the alias at once
    }
    assert configuration["Role"] == role["Arn"]
    versions = lambda_client.list_versions_by_function(FunctionName="hello_world")["Versions"]
    assert [version["Version"] for version in versions] == ["$LATEST", "1"]
    assert alias_version(lambda_client, "hello_world") == "1"
    counts = aws.calls.snapshot()
    assert counts["lambda:Invoke:hello_world"] == len(events) > 0
    assert (
        counts["lambda:CreateFunction"]
        == counts["lambda:PublishVersion"]
        == counts["lambda:CreateAlias"]
        == 1
    )
    _, payload = invoke_json(lambda_client, "hello_world:live", {})
    assert payload == {"statusCode": 200, "body": "Hello, AWS Lambda!"}


def test_second_deploy_of_the_same_folder_makes_no_write_call_and_uploads_nothing(
    aws: LocalAws, deploy: Deploy
) -> None:
    first = deploy(HELLO_WORLD)
    aws.calls.reset()

    second = deploy(HELLO_WORLD)

    counts = aws.calls.snapshot()
    assert write_calls(counts) == {}
    assert counts["lambda:CreateFunction"] == counts["lambda:UpdateFunctionCode"] == 0
    assert counts["lambda:GetFunctionConfiguration"] == 1, "the no-op was decided by reading, not skipped"
    assert (second.changed, second.smoke_tests) == (False, [])
    assert (second.version, second.code_sha256, second.alias) == (first.version, first.code_sha256, "live")


def test_a_deploy_tags_the_function_managed_and_tags_one_deployed_before_tags_existed_once(
    aws: LocalAws, deploy: Deploy, lambda_client: Any
) -> None:
    arn = deploy(HELLO_WORLD).function_arn
    assert lambda_client.list_tags(Resource=arn)["Tags"] == {MANAGED_TAG: MANAGED_TAG_VALUE}
    lambda_client.untag_resource(Resource=arn, TagKeys=[MANAGED_TAG])  # as deployed by an older version
    aws.calls.reset()

    retagging = deploy(HELLO_WORLD)
    after_retagging = aws.calls.snapshot()
    aws.calls.reset()
    deploy(HELLO_WORLD)

    assert lambda_client.list_tags(Resource=arn)["Tags"] == {MANAGED_TAG: MANAGED_TAG_VALUE}
    assert write_calls(after_retagging) == {"lambda:TagResource": 1}
    assert (retagging.changed, retagging.smoke_tests) == (False, []), "a tag is no new code to test"
    assert write_calls(aws.calls.snapshot()) == {}


def test_code_change_updates_code_publishes_version_2_and_moves_the_alias_to_the_new_code(
    aws: LocalAws, deploy: Deploy, lambda_client: Any, tmp_path: Path
) -> None:
    folder = copy_function("hello_world", tmp_path / "greeter")
    first = deploy(folder)
    replace_in_file(folder / "app.py", "Hello, AWS Lambda!", "Hello from version 2!")
    aws.calls.reset()

    result = deploy(folder)

    counts = aws.calls.snapshot()
    assert (result.version, result.changed) == ("2", True)
    assert result.code_sha256 != first.code_sha256
    assert counts["lambda:UpdateFunctionCode"] == 1
    assert counts["lambda:UpdateFunctionConfiguration"] == 0
    assert counts["lambda:PublishVersion"] == 1
    assert counts["lambda:UpdateAlias"] == 1
    assert alias_version(lambda_client, "greeter") == "2"
    _, live = invoke_json(lambda_client, "greeter:live", {})
    _, version_1 = invoke_json(lambda_client, "greeter:1", {})
    assert live["body"] == "Hello from version 2!"
    assert version_1["body"] == "Hello, AWS Lambda!"


def test_reverting_the_code_moves_the_alias_back_to_the_version_that_has_it_without_publishing(
    aws: LocalAws, deploy: Deploy, lambda_client: Any, tmp_path: Path
) -> None:
    folder = copy_function("hello_world", tmp_path / "greeter")
    first = deploy(folder)
    replace_in_file(folder / "app.py", "Hello, AWS Lambda!", "Hello from version 2!")
    deploy(folder)
    replace_in_file(folder / "app.py", "Hello from version 2!", "Hello, AWS Lambda!")
    aws.calls.reset()

    rolled_back = deploy(folder)

    counts = aws.calls.snapshot()
    assert (rolled_back.version, rolled_back.code_sha256, rolled_back.changed) == (
        "1",
        first.code_sha256,
        True,
    )
    assert counts["lambda:UpdateFunctionCode"] == counts["lambda:UpdateAlias"] == 1
    assert counts["lambda:PublishVersion"] == 0
    assert alias_version(lambda_client, "greeter") == "1"
    _, live = invoke_json(lambda_client, "greeter:live", {})
    assert live["body"] == "Hello, AWS Lambda!"


def edit_memory(folder: Path) -> dict[str, Any]:
    replace_in_file(folder / "function.toml", "memory = 128", "memory = 256")
    return {}


def override_environment(folder: Path) -> dict[str, Any]:
    return {
        "overrides": {"environment": {"POWERTOOLS_SERVICE_NAME": "tuned", "POWERTOOLS_LOG_LEVEL": "DEBUG"}}
    }


@pytest.mark.parametrize(
    ("change", "field", "before", "after"),
    [
        (edit_memory, lambda config: config["MemorySize"], 128, 256),
        (
            override_environment,
            lambda config: config["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"],
            "INFO",
            "DEBUG",
        ),
    ],
    ids=["memory-in-manifest", "environment-override"],
)
def test_config_only_change_updates_configuration_not_code_and_publishes_a_version(
    aws: LocalAws,
    deploy: Deploy,
    lambda_client: Any,
    tmp_path: Path,
    change: Callable[[Path], dict[str, Any]],
    field: Callable[[dict], Any],
    before: Any,
    after: Any,
) -> None:
    folder = copy_function("hello_world", tmp_path / "tuned")
    first = deploy(folder)
    options = change(folder)
    aws.calls.reset()

    result = deploy(folder, **options)

    counts = aws.calls.snapshot()
    assert counts["lambda:UpdateFunctionCode"] == 0
    assert counts["lambda:UpdateFunctionConfiguration"] == 1
    assert counts["lambda:PublishVersion"] == 1
    assert (result.version, result.changed, result.code_sha256) == ("2", True, first.code_sha256)
    assert alias_version(lambda_client, "tuned") == "2"
    assert field(lambda_client.get_function_configuration(FunctionName="tuned", Qualifier="2")) == after
    assert field(lambda_client.get_function_configuration(FunctionName="tuned", Qualifier="1")) == before


def test_failing_smoke_test_leaves_the_alias_on_the_previous_version_and_a_rerun_fails_again(
    aws: LocalAws, deploy: Deploy, lambda_client: Any, tmp_path: Path
) -> None:
    folder = copy_function("order_transform", tmp_path / "orders")
    deploy(folder)
    replace_in_file(folder / "app.py", "Validate and transform", "Validate, then transform")
    (folder / "events" / "not-a-batch.json").write_text('{"records": []}', encoding="utf-8")

    with pytest.raises(SmokeTestFailed) as failure:
        deploy(folder)
    aws.calls.reset()
    with pytest.raises(SmokeTestFailed) as rerun:
        deploy(folder)

    for error in (failure.value, rerun.value):
        assert "version 2" in str(error)
        assert "'not-a-batch' (events/not-a-batch.json)" in str(error)
        assert "ValueError" in str(error)
    counts = aws.calls.snapshot()
    assert counts["lambda:PublishVersion"] == 0, "the rerun tests the version already published"
    assert counts["lambda:UpdateAlias"] == counts["lambda:CreateAlias"] == 0
    assert alias_version(lambda_client, "orders") == "1"
    _, live = invoke_json(lambda_client, "orders:live", {"orders": []})
    assert live["valid"] == [] and live["rejects"] == []


def test_two_builds_of_a_folder_have_one_sha256_and_it_is_the_code_sha256_lambda_reports(
    deploy: Deploy, lambda_client: Any, tmp_path: Path
) -> None:
    copy = Path(shutil.copytree(HELLO_WORLD, tmp_path / "copy" / "hello_world", copy_function=shutil.copy))
    for path in copy.rglob("*"):
        os.utime(path, (978307200, 978307200))  # 2001-01-01: other timestamps than the original's

    original, rebuilt = build_package(HELLO_WORLD), build_package(copy)
    result = deploy(HELLO_WORLD)

    assert original.zip_bytes == rebuilt.zip_bytes
    assert original.code_sha256 == rebuilt.code_sha256 == result.code_sha256
    assert (
        lambda_client.get_function_configuration(FunctionName="hello_world")["CodeSha256"]
        == result.code_sha256
    )
    published = lambda_client.get_function_configuration(FunctionName="hello_world", Qualifier="live")
    assert published["CodeSha256"] == result.code_sha256
