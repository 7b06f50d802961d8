"""Build each shipped function once per session and run its handler from the built package.

Dependencies come from the shared cache (``$LAMBDAPIPE_CACHE_DIR`` or ``~/.cache/lambdapipe``):
the first run on a machine downloads the wheels, later runs reuse them.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdapipe.packaging import BuildResult, Manifest, build_package, load_manifest
from tests.support.handler_runners import Run, link_boto3_runtime, run_node, run_python
from tests.support.shipped_functions import FUNCTIONS_DIR, Invoke

TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


@pytest.fixture(scope="session")
def built() -> Callable[[str], BuildResult]:
    """``built(name)``: the function's build, made once per session."""
    builds: dict[str, BuildResult] = {}

    def build(name: str) -> BuildResult:
        if name not in builds:
            builds[name] = build_package(FUNCTIONS_DIR / name)
        return builds[name]

    return build


@pytest.fixture(scope="session")
def unpacked(
    built: Callable[[str], BuildResult], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """``unpacked(name)``: the function's zip extracted, as Lambda's /var/task would hold it."""
    folders: dict[str, Path] = {}

    def unpack(name: str) -> Path:
        if name not in folders:
            folders[name] = tmp_path_factory.mktemp(f"task-{name}")
            zipfile.ZipFile(io.BytesIO(built(name).zip_bytes)).extractall(folders[name])
        return folders[name]

    return unpack


@pytest.fixture(scope="session")
def boto3_runtime(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return link_boto3_runtime(tmp_path_factory.mktemp("runtime") / "python")


@pytest.fixture
def invoke(unpacked: Callable[[str], Path], boto3_runtime: Path, tmp_path: Path) -> Invoke:
    """``invoke(name, events, env=None)``: run the packaged handler over ``events`` in one process.

    The environment is the manifest's, plus dummy AWS credentials, plus ``env``.
    """

    def run(name: str, events: list[Any], env: dict[str, str] | None = None) -> Run:
        manifest: Manifest = load_manifest(FUNCTIONS_DIR / name)
        environment = {**TEST_CREDENTIALS, **manifest.environment, **(env or {})}
        if manifest.language == "python":
            return run_python(
                unpacked(name), boto3_runtime, manifest.handler, events, tmp_path / name, environment
            )
        return run_node(unpacked(name), manifest.handler, events, tmp_path / name, environment)

    return run


@pytest.fixture(scope="session")
def local_aws_endpoint() -> Iterator[str]:
    """The local AWS stack on a free loopback port, for handlers that call S3."""
    from lambdapipe_local import LocalAws

    with LocalAws(check_signatures=True) as aws:
        yield aws.endpoint_url
