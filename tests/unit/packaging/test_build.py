"""build_package: byte-for-byte reproducible zips, Lambda's CodeSha256, size limits, handler check."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from lambdapipe.packaging import ManifestError, PackageLimits, PackageTooLargeError, build_package
from lambdapipe.packaging.build import DIRECT_UPLOAD_LIMIT_BYTES, UNZIPPED_LIMIT_BYTES
from tests.support.function_folders import MINIMAL_MANIFEST, FunctionFactory

FILES = {
    "app.py": "from lib.util import greet\n\ndef handler(event, context):\n    return greet()\n",
    "lib/__init__.py": "",
    "lib/util.py": "def greet():\n    return 'hi'\n",
    "bin/tool.sh": "#!/bin/sh\necho tool\n",
    "requirements.txt": "# nothing to install\n",
    "data/config.json": '{"a": 1}',
}


def zip_entries(zip_bytes: bytes) -> list[zipfile.ZipInfo]:
    return zipfile.ZipFile(io.BytesIO(zip_bytes)).infolist()


@pytest.fixture
def function_dir(make_function: FunctionFactory) -> Path:
    folder = make_function(files=FILES)
    (folder / "bin" / "tool.sh").chmod(0o750)
    return folder


def test_two_builds_of_one_folder_give_identical_bytes_and_sha(function_dir: Path, tmp_path: Path) -> None:
    first = build_package(function_dir, cache_dir=tmp_path / "cache")
    second = build_package(function_dir, cache_dir=tmp_path / "cache")

    assert first.zip_bytes == second.zip_bytes
    assert first.code_sha256 == second.code_sha256
    assert first.code_sha256 == base64.b64encode(hashlib.sha256(first.zip_bytes).digest()).decode()


def test_build_depends_on_content_not_on_location_or_timestamps(function_dir: Path, tmp_path: Path) -> None:
    original = build_package(function_dir, cache_dir=tmp_path / "cache")
    copy = shutil.copytree(function_dir, tmp_path / "elsewhere" / "fn")
    for path in copy.rglob("*"):
        os.utime(path, (1_900_000_000, 1_900_000_000))

    assert build_package(copy, cache_dir=tmp_path / "cache").code_sha256 == original.code_sha256

    (copy / "lib" / "util.py").write_text("def greet():\n    return 'hello'\n")
    assert build_package(copy, cache_dir=tmp_path / "cache").code_sha256 != original.code_sha256


def test_zip_entries_are_sorted_dated_1980_with_fixed_modes(function_dir: Path, tmp_path: Path) -> None:
    entries = zip_entries(build_package(function_dir, cache_dir=tmp_path / "cache").zip_bytes)

    names = [entry.filename for entry in entries]
    assert names == sorted(names)
    assert names == [
        "app.py",
        "bin/tool.sh",
        "data/config.json",
        "lib/__init__.py",
        "lib/util.py",
        "requirements.txt",
    ]
    modes = {entry.filename: stat.S_IMODE(entry.external_attr >> 16) for entry in entries}
    assert modes["bin/tool.sh"] == 0o755
    assert {mode for name, mode in modes.items() if name != "bin/tool.sh"} == {0o644}
    assert {entry.date_time for entry in entries} == {(1980, 1, 1, 0, 0, 0)}
    assert {entry.create_system for entry in entries} == {3}
    assert {entry.compress_type for entry in entries} == {zipfile.ZIP_DEFLATED}


def test_result_reports_sizes_and_file_count(function_dir: Path, tmp_path: Path) -> None:
    result = build_package(function_dir, cache_dir=tmp_path / "cache")

    assert result.function_name == "fn"
    assert result.file_count == 6
    assert result.unzipped_size == sum(len(content.encode()) for content in FILES.values())
    assert result.zipped_size == len(result.zip_bytes)
    assert result.dependencies is None  # a comment-only requirements.txt installs nothing
    assert not result.requires_s3_upload
    assert result.direct_upload_code() == {"ZipFile": result.zip_bytes}
    assert result.write(tmp_path / "fn.zip").read_bytes() == result.zip_bytes


def test_default_limits_are_lambdas() -> None:
    assert PackageLimits() == PackageLimits(direct_upload_bytes=52_428_800, unzipped_bytes=262_144_000)
    assert (DIRECT_UPLOAD_LIMIT_BYTES, UNZIPPED_LIMIT_BYTES) == (50 * 1024 * 1024, 250 * 1024 * 1024)


def test_package_above_the_unzipped_limit_is_refused(make_function: FunctionFactory, tmp_path: Path) -> None:
    folder = make_function(files={"model.bin": os.urandom(3000)})

    with pytest.raises(
        PackageTooLargeError, match=r"fn: the package is \d[\d,]* bytes unzipped; Lambda allows 2,048 "
    ):
        build_package(folder, cache_dir=tmp_path / "cache", limits=PackageLimits(unzipped_bytes=2048))


def test_zip_above_the_direct_upload_limit_must_go_through_s3(
    make_function: FunctionFactory, tmp_path: Path
) -> None:
    folder = make_function(files={"model.bin": os.urandom(3000)})

    result = build_package(
        folder, cache_dir=tmp_path / "cache", limits=PackageLimits(direct_upload_bytes=2048)
    )

    assert result.requires_s3_upload
    assert result.s3_key.startswith("lambdapipe/packages/fn/") and result.s3_key.endswith(".zip")
    assert "/" not in result.s3_key.removeprefix("lambdapipe/packages/fn/")
    with pytest.raises(PackageTooLargeError, match="above the direct-upload limit; upload it to S3"):
        result.direct_upload_code()


def test_missing_handler_module_is_a_manifest_error(make_function: FunctionFactory, tmp_path: Path) -> None:
    folder = make_function(manifest=MINIMAL_MANIFEST.replace("app.handler", "main.handler"))

    with pytest.raises(
        ManifestError, match=r"function\.toml: handler: 'main\.handler' needs main\.py or main/__init__\.py"
    ):
        build_package(folder, cache_dir=tmp_path / "cache")


def test_excluded_handler_module_is_a_manifest_error(make_function: FunctionFactory, tmp_path: Path) -> None:
    folder = make_function(manifest=MINIMAL_MANIFEST + 'excludes = ["app.py"]\n')

    with pytest.raises(ManifestError, match="missing, or excluded"):
        build_package(folder, cache_dir=tmp_path / "cache")


def test_node_handler_may_be_any_module_extension(make_function: FunctionFactory, tmp_path: Path) -> None:
    folder = make_function(
        manifest='runtime = "nodejs20.x"\nhandler = "src/main.handler"\n',
        files={
            "src/main.mjs": "export const handler = async () => 1;\n",
            "package.json": '{"type": "module"}',
        },
    )

    names = [
        entry.filename for entry in zip_entries(build_package(folder, cache_dir=tmp_path / "cache").zip_bytes)
    ]

    assert names == ["app.py", "package.json", "src/main.mjs"]
