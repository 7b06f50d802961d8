"""Fixtures for the tests that install what this checkout builds: the two wheels, built once per worker."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def uv() -> str:
    """The uv executable: it builds the wheels and the clean environments."""
    found = shutil.which("uv")
    if found is None:
        pytest.fail("uv is not on PATH: `make install` installs it (it builds the wheels under test)")
    return found


@pytest.fixture(scope="session")
def wheel(repo_root: Path, uv: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The provider's wheel (airflow-provider-lambdapipe), built from this checkout."""
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(out), str(repo_root)], check=True)
    [built] = out.glob("*.whl")
    return built


@pytest.fixture(scope="session")
def local_stack_wheel(repo_root: Path, uv: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local AWS stack's wheel (lambdapipe-local, the provider's 'local' extra)."""
    out = tmp_path_factory.mktemp("local-wheel")
    build = [uv, "build", "--wheel", "--package", "lambdapipe-local", "--out-dir", str(out)]
    subprocess.run(build, check=True, cwd=repo_root)
    [built] = out.glob("*.whl")
    return built
