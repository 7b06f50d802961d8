"""Build the deployment package of one function folder: its files plus its dependencies, zipped.

Example::

    result = build_package("lambda_functions/image_resize")
    result.code_sha256          # equals the CodeSha256 Lambda reports after upload
    if result.requires_s3_upload:
        s3.put_object(Bucket=bucket, Key=result.s3_key, Body=result.zip_bytes)
        code = {"S3Bucket": bucket, "S3Key": result.s3_key}
    else:
        code = result.direct_upload_code()

Lambda's limits are enforced here: above 250 MB unzipped nothing can be deployed (error), above
50 MB zipped the zip must go through S3 (``requires_s3_upload``; ``direct_upload_code`` refuses).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdapipe.packaging.deps_cache import InstalledDependencies, default_cache_dir
from lambdapipe.packaging.errors import ManifestError, PackageTooLargeError
from lambdapipe.packaging.excludes import BYTECODE_EXCLUDES, DEFAULT_EXCLUDES, Excludes
from lambdapipe.packaging.files import PackageFile, collect_files
from lambdapipe.packaging.manifest import MANIFEST_FILE, Manifest, load_manifest
from lambdapipe.packaging.node_deps import install_node_dependencies
from lambdapipe.packaging.python_deps import install_python_dependencies
from lambdapipe.packaging.reproducible_zip import code_sha256, write_zip

log = logging.getLogger(__name__)

DIRECT_UPLOAD_LIMIT_BYTES = 50 * 1024 * 1024
UNZIPPED_LIMIT_BYTES = 250 * 1024 * 1024  # 262,144,000: Lambda's "Unzipped size must be smaller than"
HANDLER_EXTENSIONS = {"python": (".py", "/__init__.py"), "nodejs": (".js", ".mjs", ".cjs")}


@dataclass(frozen=True)
class PackageLimits:
    """Lambda's package size limits; tests pass smaller ones."""

    direct_upload_bytes: int = DIRECT_UPLOAD_LIMIT_BYTES
    unzipped_bytes: int = UNZIPPED_LIMIT_BYTES


@dataclass(frozen=True)
class BuildResult:
    """A built package. ``zip_bytes`` is kept in memory: Lambda caps it at 250 MB unzipped."""

    function_name: str
    zip_bytes: bytes = field(repr=False)
    code_sha256: str
    zipped_size: int
    unzipped_size: int
    file_count: int
    requires_s3_upload: bool
    dependencies: InstalledDependencies | None
    seconds: float

    @property
    def s3_key(self) -> str:
        """A content-addressed key for S3 uploads: the same code always lands on the same key."""
        safe_sha = self.code_sha256.replace("/", "_").replace("+", "-").rstrip("=")
        return f"lambdapipe/packages/{self.function_name}/{safe_sha}.zip"

    def direct_upload_code(self) -> dict[str, Any]:
        """``{"ZipFile": bytes}`` for create/update calls; refuses a zip above the direct-upload limit."""
        if self.requires_s3_upload:
            raise PackageTooLargeError(
                f"{self.function_name}: the zip is {self.zipped_size:,} bytes, above the direct-upload limit; "
                f"upload it to S3 (key {self.s3_key}) and pass Code={{'S3Bucket': ..., 'S3Key': ...}}"
            )
        return {"ZipFile": self.zip_bytes}

    def write(self, path: Path | str) -> Path:
        """Write the zip to ``path`` (e.g. for ``aws lambda update-function-code --zip-file``)."""
        target = Path(path)
        target.write_bytes(self.zip_bytes)
        return target


def install_dependencies(
    function_dir: Path, manifest: Manifest, cache_dir: Path
) -> InstalledDependencies | None:
    """requirements.txt (Python) or package.json (Node.js), from the cache when possible."""
    if manifest.language == "python":
        return install_python_dependencies(function_dir, manifest, cache_dir)
    return install_node_dependencies(function_dir, manifest, cache_dir)


def check_handler_packaged(function_dir: Path, manifest: Manifest, files: list[PackageFile]) -> None:
    module = manifest.handler_module
    candidates = [module + extension for extension in HANDLER_EXTENSIONS[manifest.language]]
    arcnames = {item.arcname for item in files}
    if not arcnames.intersection(candidates):
        raise ManifestError(
            "handler",
            f"{manifest.handler!r} needs {' or '.join(candidates)} in the package: missing, or excluded",
            function_dir / MANIFEST_FILE,
        )


def check_unzipped_size(manifest: Manifest, files: list[PackageFile], limits: PackageLimits) -> int:
    size = sum(item.size for item in files)
    if size > limits.unzipped_bytes:
        largest = sorted(files, key=lambda item: item.size, reverse=True)[:3]
        raise PackageTooLargeError(
            f"{manifest.name}: the package is {size:,} bytes unzipped; Lambda allows {limits.unzipped_bytes:,} "
            f"(largest: {', '.join(f'{item.arcname} {item.size:,}' for item in largest)}); "
            "drop dependencies, add excludes, or use a container image"
        )
    return size


def build_package(
    function_dir: Path | str,
    *,
    manifest: Manifest | None = None,
    cache_dir: Path | str | None = None,
    limits: PackageLimits = PackageLimits(),
) -> BuildResult:
    """Build ``function_dir`` into a reproducible zip with its dependencies for the manifest's runtime."""
    started = time.perf_counter()
    function_dir = Path(function_dir)
    manifest = manifest or load_manifest(function_dir)
    files = collect_files(function_dir, Excludes((*DEFAULT_EXCLUDES, *manifest.excludes)))
    check_handler_packaged(function_dir, manifest, files)
    dependencies = install_dependencies(function_dir, manifest, Path(cache_dir or default_cache_dir()))
    if dependencies is not None:
        files += collect_files(dependencies.path, Excludes(BYTECODE_EXCLUDES))
    unzipped_size = check_unzipped_size(manifest, files, limits)
    zip_bytes = write_zip(files)
    result = BuildResult(
        function_name=manifest.name,
        zip_bytes=zip_bytes,
        code_sha256=code_sha256(zip_bytes),
        zipped_size=len(zip_bytes),
        unzipped_size=unzipped_size,
        file_count=len(files),
        requires_s3_upload=len(zip_bytes) > limits.direct_upload_bytes,
        dependencies=dependencies,
        seconds=time.perf_counter() - started,
    )
    log.info(
        "Built %s: %d files, %d bytes zipped (%d unzipped), CodeSha256 %s, dependencies %s, %.2f s",
        result.function_name,
        result.file_count,
        result.zipped_size,
        result.unzipped_size,
        result.code_sha256,
        "none" if dependencies is None else ("cached" if dependencies.cache_hit else "installed"),
        result.seconds,
    )
    return result
