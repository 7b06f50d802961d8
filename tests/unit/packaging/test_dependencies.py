"""Dependencies: installed for the target runtime, cached by content, reused byte for byte."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from lambdapipe.packaging import DependencyInstallError, build_package
from lambdapipe.packaging.deps_cache import InstalledDependencies, default_cache_dir
from lambdapipe.packaging.installer import run_installer
from lambdapipe.packaging.python_deps import pip_command
from tests.support.function_folders import MINIMAL_MANIFEST, FunctionFactory

# A small pure-Python wheel that boto3 also needs, so it is in uv's cache on every dev machine.
REQUIREMENT = "jmespath==1.1.0\n"


def packaged_names(zip_bytes: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(zip_bytes)).namelist()


def test_python_requirements_are_installed_into_the_zip_root(
    make_function: FunctionFactory, tmp_path: Path
) -> None:
    folder = make_function(files={"requirements.txt": REQUIREMENT})

    result = build_package(folder, cache_dir=tmp_path / "cache")

    names = packaged_names(result.zip_bytes)
    assert "jmespath/__init__.py" in names
    assert "jmespath-1.1.0.dist-info/METADATA" in names
    assert not [
        name for name in names if name.startswith("bin/") or name.endswith(".pyc") or "/." in f"/{name}"
    ]
    assert result.dependencies is not None and not result.dependencies.cache_hit


def test_second_build_reuses_the_cached_install(make_function: FunctionFactory, tmp_path: Path) -> None:
    folder = make_function(files={"requirements.txt": REQUIREMENT})
    first = build_package(folder, cache_dir=tmp_path / "cache")
    assert first.dependencies is not None
    (first.dependencies.path / "planted_in_cache.py").write_text("")

    second = build_package(folder, cache_dir=tmp_path / "cache")

    assert second.dependencies == InstalledDependencies(
        first.dependencies.path, first.dependencies.key, cache_hit=True
    )
    assert "planted_in_cache.py" in packaged_names(second.zip_bytes)  # the files came from the cache entry


def test_cold_builds_in_separate_caches_give_the_same_sha(
    make_function: FunctionFactory, tmp_path: Path
) -> None:
    folder = make_function(files={"requirements.txt": REQUIREMENT})

    first = build_package(folder, cache_dir=tmp_path / "cache-a")
    second = build_package(folder, cache_dir=tmp_path / "cache-b")

    assert first.code_sha256 == second.code_sha256


def test_cache_key_covers_requirements_runtime_and_architecture(
    make_function: FunctionFactory, tmp_path: Path
) -> None:
    base = make_function("base", files={"requirements.txt": REQUIREMENT})
    arm = make_function(
        "arm", files={"requirements.txt": REQUIREMENT}, manifest=MINIMAL_MANIFEST + 'architecture = "arm64"\n'
    )
    py312 = make_function(
        "py312", files={"requirements.txt": REQUIREMENT}, manifest=MINIMAL_MANIFEST.replace("3.11", "3.12")
    )
    other = make_function("other", files={"requirements.txt": REQUIREMENT + "# a comment changes the key\n"})

    installs = [
        build_package(folder, cache_dir=tmp_path / "cache").dependencies
        for folder in (base, arm, py312, other)
    ]

    assert len({install.key for install in installs if install is not None}) == 4


def test_failed_install_names_the_requirements_file_and_leaves_no_cache_entry(
    make_function: FunctionFactory, tmp_path: Path
) -> None:
    folder = make_function(files={"requirements.txt": "this is not a requirement !!!\n"})

    with pytest.raises(DependencyInstallError, match=r"fn/requirements\.txt: installing dependencies failed"):
        build_package(folder, cache_dir=tmp_path / "cache")

    assert list((tmp_path / "cache" / "python").iterdir()) == []


def test_cache_dir_defaults_under_lambdapipe_cache_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LAMBDAPIPE_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "deps"
    monkeypatch.delenv("LAMBDAPIPE_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "lambdapipe" / "deps"


PYTHON_WITH_PIP = next(
    (
        python
        for python in filter(None, (shutil.which("python3"), shutil.which("python3.11")))
        if subprocess.run([python, "-m", "pip", "--version"], capture_output=True, check=False).returncode
        == 0
    ),
    None,
)


@pytest.mark.skipif(PYTHON_WITH_PIP is None, reason="no interpreter with pip on PATH")
def test_pip_command_installs_wheels_for_the_target_platform(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(REQUIREMENT)

    assert PYTHON_WITH_PIP is not None
    run_installer(
        pip_command(PYTHON_WITH_PIP, requirements, tmp_path / "target", "3.12", "arm64"), requirements
    )

    assert (tmp_path / "target" / "jmespath" / "__init__.py").is_file()


@pytest.fixture
def npm_tarballs(tmp_path: Path) -> dict[str, Path]:
    """Two local npm packages packed as tarballs, so npm installs them without the registry."""
    tarballs = {}
    for name, body in (
        ("greeter", "module.exports = (n) => `hi ${n}`;"),
        ("dev-only", "module.exports = 1;"),
    ):
        source = tmp_path / "npm-src" / name
        source.mkdir(parents=True)
        (source / "package.json").write_text(
            json.dumps({"name": name, "version": "1.0.0", "main": "index.js"})
        )
        (source / "index.js").write_text(body)
        packed = subprocess.run(
            ["npm", "pack", "--silent", "--pack-destination", str(tmp_path)],
            cwd=source,
            capture_output=True,
            text=True,
            check=True,
        )
        tarballs[name] = tmp_path / packed.stdout.strip().splitlines()[-1]
    return tarballs


@pytest.mark.skipif(shutil.which("npm") is None or shutil.which("node") is None, reason="needs node and npm")
def test_node_production_dependencies_go_to_node_modules_and_are_cached(
    make_function: FunctionFactory, npm_tarballs: dict[str, Path], tmp_path: Path
) -> None:
    package = {
        "name": "fn",
        "private": True,
        "dependencies": {"greeter": f"file:{npm_tarballs['greeter']}"},
        "devDependencies": {"dev-only": f"file:{npm_tarballs['dev-only']}"},
    }
    folder = make_function(
        manifest='runtime = "nodejs20.x"\nhandler = "index.handler"\n',
        files={
            "index.js": "const greet = require('greeter');\nexports.handler = async (e) => greet(e.name);\n",
            "package.json": json.dumps(package),
        },
    )

    first = build_package(folder, cache_dir=tmp_path / "cache")
    second = build_package(folder, cache_dir=tmp_path / "cache")

    names = packaged_names(first.zip_bytes)
    assert "node_modules/greeter/index.js" in names
    assert not [name for name in names if "dev-only" in name or "/.bin/" in name or ".package-lock" in name]
    assert first.dependencies is not None and second.dependencies is not None
    assert (first.dependencies.cache_hit, second.dependencies.cache_hit) == (False, True)
    assert first.code_sha256 == second.code_sha256
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(io.BytesIO(first.zip_bytes)).extractall(unpacked)
    greeting = subprocess.run(
        [
            "node",
            "-e",
            "require(process.argv[1]).handler({name: 'Ada'}).then((r) => process.stdout.write(r))",
            str(unpacked / "index.js"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert greeting.stdout == "hi Ada"
