"""Layers from function.toml: a folder is published once per content and attached by version, an
ARN as given; the function really imports from /opt on the local stack."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lambdapipe.deploy.deployer import DeployResult
from lambdapipe.packaging import ManifestError
from lambdapipe.packaging.layers import build_layer
from lambdapipe_local import LocalAws
from tests.support.aws_calls import write_calls
from tests.support.local_stack import invoke_json

Deploy = Callable[..., DeployResult]
HANDLER = "import words\n\n\ndef handler(event, context):\n    return words.GREETING\n"


def function_with_layers(root: Path, *layers: str, name: str = "layered") -> Path:
    """``root/<name>`` whose handler imports ``words`` from a layer, and the layer folder ``root/common``."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(HANDLER)
    entries = ", ".join(f'"{entry}"' for entry in layers)
    (folder / "function.toml").write_text(
        f'runtime = "python3.11"\nhandler = "app.handler"\nlayers = [{entries}]\n'
    )
    words = root / "common" / "python" / "words.py"
    if not words.exists():
        words.parent.mkdir(parents=True)
        words.write_text('GREETING = "hello from the layer"\n')
    return folder


def layer_versions(aws: LocalAws, name: str = "common") -> list[dict[str, Any]]:
    return aws.client("lambda").list_layer_versions(LayerName=name)["LayerVersions"]


def test_a_layer_folder_is_published_attached_and_imported_by_the_function(
    aws: LocalAws, deploy: Deploy, lambda_client: Any, tmp_path: Path
) -> None:
    result = deploy(function_with_layers(tmp_path, "../common"))

    [published] = layer_versions(aws)
    configuration = lambda_client.get_function_configuration(FunctionName="layered", Qualifier="live")
    assert [layer["Arn"] for layer in configuration["Layers"]] == [published["LayerVersionArn"]]
    assert invoke_json(lambda_client, "layered", {}, Qualifier="live")[1] == "hello from the layer"
    assert result.changed


def test_a_redeploy_with_nothing_changed_publishes_nothing_and_makes_no_write_call(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    folder = function_with_layers(tmp_path, "../common")
    deploy(folder)
    aws.calls.reset()

    again = deploy(folder)

    assert write_calls(aws.calls.snapshot()) == {}
    assert (again.changed, again.version, len(layer_versions(aws))) == (False, "1", 1)


def test_new_layer_content_publishes_a_layer_version_and_a_function_version(
    aws: LocalAws, deploy: Deploy, lambda_client: Any, tmp_path: Path
) -> None:
    folder = function_with_layers(tmp_path, "../common")
    deploy(folder)
    (tmp_path / "common" / "python" / "words.py").write_text('GREETING = "hello from layer version 2"\n')

    result = deploy(folder)

    assert sorted(version["Version"] for version in layer_versions(aws)) == [1, 2]
    assert result.version == "2"
    assert invoke_json(lambda_client, "layered", {}, Qualifier="live")[1] == "hello from layer version 2"


def test_two_functions_sharing_a_layer_folder_share_its_one_published_version(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    deploy(function_with_layers(tmp_path, "../common", name="first"))
    deploy(function_with_layers(tmp_path, "../common", name="second"))

    assert len(layer_versions(aws)) == 1


def test_a_layer_arn_is_attached_as_given(
    aws: LocalAws, deploy: Deploy, lambda_client: Any, tmp_path: Path
) -> None:
    external = function_with_layers(tmp_path / "elsewhere", "../common", name="publisher")
    deploy(external)
    [arn] = [version["LayerVersionArn"] for version in layer_versions(aws)]

    deploy(function_with_layers(tmp_path, arn, name="borrower"))

    configuration = lambda_client.get_function_configuration(FunctionName="borrower", Qualifier="live")
    assert [layer["Arn"] for layer in configuration["Layers"]] == [arn]


def test_a_missing_layer_folder_names_the_entry_and_where_it_looked(deploy: Deploy, tmp_path: Path) -> None:
    folder = function_with_layers(tmp_path, "../no-such-layer")

    with pytest.raises(ManifestError, match=r"layers\[0\]: layer folder '../no-such-layer' not found"):
        deploy(folder)


def test_a_layer_taken_out_of_the_manifest_is_detached_in_a_new_version(
    deploy: Deploy, lambda_client: Any, tmp_path: Path
) -> None:
    folder = function_with_layers(tmp_path, "../common")
    deploy(folder)
    (folder / "app.py").write_text("def handler(event, context):\n    return 'no layer'\n")
    (folder / "function.toml").write_text('runtime = "python3.11"\nhandler = "app.handler"\n')

    result = deploy(folder)

    configuration = lambda_client.get_function_configuration(FunctionName="layered", Qualifier="live")
    assert (result.version, configuration.get("Layers", [])) == ("2", [])
    assert invoke_json(lambda_client, "layered", {}, Qualifier="live")[1] == "no layer"


def test_of_two_versions_with_the_same_content_the_attached_one_stays(
    aws: LocalAws, deploy: Deploy, lambda_client: Any, tmp_path: Path
) -> None:
    """Two deploys that published the same new content at once each attached their own version: a
    rerun keeps the one attached instead of swapping it for the other."""
    folder = function_with_layers(tmp_path, "../common")
    deploy(folder)
    [first] = layer_versions(aws)
    same_content = build_layer(folder, "../common", "layers[0]").zip_bytes
    lambda_client.publish_layer_version(  # the other deploy's, listed first (newest)
        LayerName="common", Description=first["Description"], Content={"ZipFile": same_content}
    )
    aws.calls.reset()

    deploy(folder)

    configuration = lambda_client.get_function_configuration(FunctionName="layered")
    assert [layer["Arn"] for layer in configuration["Layers"]] == [first["LayerVersionArn"]]
    assert "lambda:UpdateFunctionConfiguration" not in write_calls(aws.calls.snapshot())
