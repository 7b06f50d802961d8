"""What goes into a package: exclusions, symlinks, and paths that would escape the package."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from lambdapipe.packaging import PackagingError, UnsafePathError, build_package
from lambdapipe.packaging.files import PackageFile
from lambdapipe.packaging.reproducible_zip import write_zip
from tests.support.function_folders import MINIMAL_MANIFEST, FunctionFactory


def packaged_names(folder: Path, tmp_path: Path) -> list[str]:
    zip_bytes = build_package(folder, cache_dir=tmp_path / "cache").zip_bytes
    return zipfile.ZipFile(io.BytesIO(zip_bytes)).namelist()


def test_bytecode_metadata_events_tests_and_hidden_files_stay_out(
    make_function: FunctionFactory, tmp_path: Path
) -> None:
    folder = make_function(
        files={
            "__pycache__/app.cpython-311.pyc": b"\x00bytecode",
            "lib/__pycache__/util.cpython-311.pyc": b"\x00bytecode",
            "lib/util.py": "",
            "lib/legacy.pyc": b"\x00",
            "events/sample.json": "{}",
            "tests/test_app.py": "",
            "node_modules/left-pad/index.js": "",
            ".env": "SECRET=1",
            ".git/config": "",
            "lib/events/handler_events.py": "",
            "requirements.txt": "# none\n",
            "package.json": "{}",
        }
    )

    assert packaged_names(folder, tmp_path) == [
        "app.py",
        "lib/events/handler_events.py",
        "lib/util.py",
        "package.json",
        "requirements.txt",
    ]


def test_manifest_excludes_are_gitignore_style(make_function: FunctionFactory, tmp_path: Path) -> None:
    folder = make_function(
        manifest=MINIMAL_MANIFEST + 'excludes = ["docs/", "*.md", "/scripts/*.sh"]\n',
        files={
            "docs/index.html": "",
            "README.md": "",
            "lib/NOTES.md": "",
            "scripts/build.sh": "",
            "lib/scripts/run.sh": "",
            "lib/docs": "a file named docs, not a folder",
        },
    )

    assert packaged_names(folder, tmp_path) == ["app.py", "lib/docs", "lib/scripts/run.sh"]


def test_symlink_inside_the_folder_is_stored_as_its_target_content(
    make_function: FunctionFactory, tmp_path: Path
) -> None:
    folder = make_function(files={"shared/config.json": '{"a": 1}'})
    (folder / "config.json").symlink_to("shared/config.json")
    (folder / "alias_dir").symlink_to("shared", target_is_directory=True)

    zip_bytes = build_package(folder, cache_dir=tmp_path / "cache").zip_bytes
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes))

    assert archive.namelist() == ["alias_dir/config.json", "app.py", "config.json", "shared/config.json"]
    assert archive.read("config.json") == b'{"a": 1}'


def test_symlink_leaving_the_folder_is_refused(make_function: FunctionFactory, tmp_path: Path) -> None:
    secret = tmp_path / "outside" / "credentials"
    secret.parent.mkdir()
    secret.write_text("aws_secret_access_key = x")
    folder = make_function()
    (folder / "lib").mkdir()
    (folder / "lib" / "creds").symlink_to(os.path.relpath(secret, folder / "lib"))

    with pytest.raises(UnsafePathError, match=r"lib/creds: symlink to \.\./\.\./outside/credentials leaves"):
        build_package(folder, cache_dir=tmp_path / "cache")


def test_symlinked_folder_leaving_the_folder_is_refused(
    make_function: FunctionFactory, tmp_path: Path
) -> None:
    folder = make_function()
    (folder / "vendor").symlink_to(tmp_path, target_is_directory=True)

    with pytest.raises(UnsafePathError, match=r"vendor: symlink to .* leaves"):
        build_package(folder, cache_dir=tmp_path / "cache")


def test_symlink_loop_is_refused(make_function: FunctionFactory, tmp_path: Path) -> None:
    folder = make_function(files={"lib/util.py": ""})
    (folder / "lib" / "again").symlink_to("..", target_is_directory=True)

    with pytest.raises(UnsafePathError, match="lib/again: symlink loop"):
        build_package(folder, cache_dir=tmp_path / "cache")


def test_broken_symlink_is_an_error(make_function: FunctionFactory, tmp_path: Path) -> None:
    folder = make_function()
    (folder / "gone.py").symlink_to("missing.py")

    with pytest.raises(PackagingError, match=r"gone\.py: broken symlink to missing\.py"):
        build_package(folder, cache_dir=tmp_path / "cache")


@pytest.mark.parametrize(
    "arcname", ["../escape.py", "lib/../../escape.py", "/etc/passwd", "lib\\..\\x.py", "./app.py"]
)
def test_zip_paths_that_could_escape_the_package_are_refused(tmp_path: Path, arcname: str) -> None:
    source = tmp_path / "file.py"
    source.write_text("")

    with pytest.raises(UnsafePathError, match="a package path must be relative"):
        write_zip([PackageFile(arcname, source, executable=False, size=0)])


def test_two_sources_for_one_zip_path_are_refused(tmp_path: Path) -> None:
    first, second = tmp_path / "a.py", tmp_path / "b.py"
    first.write_text("")
    second.write_text("")

    with pytest.raises(PackagingError, match=r"typing_extensions\.py: comes from both .*a\.py and .*b\.py"):
        write_zip([PackageFile("typing_extensions.py", path, False, 0) for path in (first, second)])
