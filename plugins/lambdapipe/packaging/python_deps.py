"""Install a Python function's ``requirements.txt`` for its Lambda runtime and architecture.

Wheels only (``--only-binary=:all:``), for CPython of the manifest's version on
``manylinux2014`` (glibc 2.17, loadable by every Lambda Python runtime) of the manifest's
architecture, whatever the building machine is. The installer is the interpreter's pip
(``python -m pip install --platform ... --target``) when it has one, else ``uv pip install
--target`` with the same options (``--python-platform``); the project's uv venv has no pip.
Results are cached (see :mod:`lambdapipe.packaging.deps_cache`) by the requirements text (files
included with ``-r``/``-c`` too), the runtime and the architecture: pin versions, since the cache
does not re-resolve ranges.
Console scripts (``bin/``, whose shebangs name the building interpreter) and bytecode are dropped.

Local runs: the package always targets the manifest's runtime, and the local stack runs Python
handlers with the local interpreter. Pure-Python dependencies work on any version, compiled ones
(``*.cpython-3XY-<arch>-linux-gnu.so``) only on the same Python minor version and machine. So the
shipped functions declare ``python3.11``, the local interpreter's version (AWS still runs it), and
the local stack warns when a function's runtime differs from its interpreter (and cannot run
arm64 compiled dependencies on an x86_64 machine).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

from lambdapipe.packaging.deps_cache import InstalledDependencies, cache_key, cached_install
from lambdapipe.packaging.errors import DependencyInstallError
from lambdapipe.packaging.installer import run_installer
from lambdapipe.packaging.manifest import Manifest
from lambdapipe.packaging.requirements_file import RequirementLine, check_package_sources, read_requirements

REQUIREMENTS_FILE = "requirements.txt"
PIP_PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}
UV_PLATFORMS = {"x86_64": "x86_64-manylinux2014", "arm64": "aarch64-manylinux2014"}
USER_BIN = Path.home() / ".local" / "bin"


def has_requirements(requirements: Path) -> bool:
    """True if the file exists and names at least one requirement (not only comments)."""
    if not requirements.is_file():
        return False
    lines = (line.split("#", 1)[0].strip() for line in requirements.read_text(encoding="utf-8").splitlines())
    return any(lines)


def pip_command(
    python: str, requirements: Path, target: Path, python_version: str, architecture: str
) -> list[str]:
    return [
        python,
        "-m",
        "pip",
        "install",
        "--requirement",
        str(requirements),
        "--target",
        str(target),
        "--platform",
        PIP_PLATFORMS[architecture],
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--only-binary=:all:",
        "--no-compile",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
    ]


def uv_command(
    uv: str, requirements: Path, target: Path, python_version: str, architecture: str
) -> list[str]:
    return [
        uv,
        "pip",
        "install",
        "--requirement",
        str(requirements),
        "--target",
        str(target),
        "--python",
        sys.executable,
        "--python-platform",
        UV_PLATFORMS[architecture],
        "--python-version",
        python_version,
        "--only-binary",
        ":all:",
        "--link-mode",
        "copy",
        "--quiet",
    ]


def installer_command(requirements: Path, target: Path, python_version: str, architecture: str) -> list[str]:
    """pip of this interpreter if it has one, else uv (a uv-made venv has no pip)."""
    if importlib.util.find_spec("pip") is not None:
        return pip_command(sys.executable, requirements, target, python_version, architecture)
    if uv := find_uv():
        return uv_command(uv, requirements, target, python_version, architecture)
    raise DependencyInstallError(
        f"{requirements}: neither pip (in {sys.executable}) nor uv (on PATH or in {USER_BIN}) is available"
    )


def find_uv() -> str | None:
    """uv on PATH, else where ``pip install --user uv`` (the Makefile's way) puts it, often not on PATH."""
    return shutil.which("uv") or shutil.which("uv", path=str(USER_BIN))


def drop_build_leftovers(target: Path) -> None:
    """Remove console scripts, the installer's own state (uv's ``.lock``) and bytecode: unused by Lambda."""
    shutil.rmtree(target / "bin", ignore_errors=True)
    for hidden in target.glob(".*"):
        if hidden.is_file():
            hidden.unlink()
    for cache in sorted(target.rglob("__pycache__"), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)
    for compiled in target.rglob("*.py[co]"):
        compiled.unlink()


def requirements_cache_key(requirements: Path, lines: list[RequirementLine], manifest: Manifest) -> str:
    """Over the requirements file, the runtime, the architecture and every file it includes."""
    included = dict.fromkeys(line.path for line in lines if line.path != requirements.resolve())
    parts = (requirements.read_bytes(), manifest.runtime, manifest.architecture)
    return cache_key("python", *parts, *(path.read_bytes() for path in included))


def install_python_dependencies(
    function_dir: Path, manifest: Manifest, cache_dir: Path
) -> InstalledDependencies | None:
    """The cached install of ``requirements.txt`` for the manifest's runtime, or None if it has none."""
    requirements = function_dir / REQUIREMENTS_FILE
    if not has_requirements(requirements):
        return None
    lines = read_requirements(requirements)
    check_package_sources(lines, manifest.dependencies.package_sources)
    key = requirements_cache_key(requirements, lines, manifest)

    def install(target: Path) -> None:
        run_installer(
            installer_command(requirements.resolve(), target, manifest.python_version, manifest.architecture),
            requirements,
        )
        drop_build_leftovers(target)

    return cached_install(cache_dir, "python", key, install)
