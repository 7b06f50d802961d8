"""Every folder in lambda_functions/: a valid manifest, saved events, a reproducible package that runs."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import pytest

from lambdapipe.packaging import BuildResult, build_package, load_manifest, load_test_events
from tests.support.shipped_functions import FUNCTIONS_DIR, SHIPPED_FUNCTIONS, Invoke


def test_the_seed_functions_are_shipped() -> None:
    assert SHIPPED_FUNCTIONS == [
        "greeting_api",
        "hello_node",
        "hello_world",
        "image_resize",
        "order_transform",
    ]


@pytest.mark.parametrize("name", SHIPPED_FUNCTIONS)
def test_manifest_is_valid_and_names_the_folder(name: str) -> None:
    manifest = load_manifest(FUNCTIONS_DIR / name)

    assert manifest.name == name
    assert manifest.runtime in ("python3.11", "nodejs20.x")  # python3.11 = the local interpreter's version
    assert manifest.architecture == "x86_64"
    assert len(load_test_events(FUNCTIONS_DIR / name)) >= 3


@pytest.mark.parametrize("name", SHIPPED_FUNCTIONS)
def test_rebuild_gives_the_same_code_sha256(name: str, built: Callable[[str], BuildResult]) -> None:
    assert build_package(FUNCTIONS_DIR / name).code_sha256 == built(name).code_sha256


@pytest.mark.parametrize("name", SHIPPED_FUNCTIONS)
def test_package_holds_code_and_dependencies_but_no_metadata_or_boto3(
    name: str, built: Callable[[str], BuildResult]
) -> None:
    names = zipfile.ZipFile(io.BytesIO(built(name).zip_bytes)).namelist()
    top_level = {entry.split("/")[0] for entry in names}

    assert not {"function.toml", "events", "tests", "boto3", "botocore", "bin", "__pycache__"} & top_level
    assert not [entry for entry in names if entry.endswith(".pyc")]
    if load_manifest(FUNCTIONS_DIR / name).language == "python":
        assert "aws_lambda_powertools" in top_level


@pytest.mark.parametrize("name", SHIPPED_FUNCTIONS)
def test_saved_events_run_without_error_within_the_configured_memory(
    name: str, invoke: Invoke, local_aws_endpoint: str
) -> None:
    events = list(load_test_events(FUNCTIONS_DIR / name).values())

    run = invoke(name, events, env={"AWS_ENDPOINT_URL": local_aws_endpoint})

    assert len(run.results) == len(events)
    assert run.peak_rss_mb < load_manifest(FUNCTIONS_DIR / name).memory
