"""Install a Node.js function's production dependencies (``package.json``) into ``node_modules/``.

``npm ci --omit=dev`` when a ``package-lock.json`` sits next to it (exact, locked versions), else
``npm install --omit=dev --no-package-lock``, run in a scratch folder holding copies of the two
files, with ``--os=linux --cpu=x64|arm64`` so optional platform packages match the Lambda
architecture. ``file:`` dependencies must therefore be absolute paths or published packages.
Packages' lifecycle scripts do not run (``--ignore-scripts``) unless the manifest sets
``install_scripts = true`` under ``[dependencies]``; packages that compile native addons in them
need it, and build for this machine: such functions should target the building machine's
architecture. Results are cached like Python's (see
:mod:`lambdapipe.packaging.deps_cache`) by both files, the runtime and the architecture;
``node_modules/.bin`` links and npm's hidden lockfile are dropped (machine-specific, unused).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lambdapipe.packaging.deps_cache import InstalledDependencies, cache_key, cached_install
from lambdapipe.packaging.errors import DependencyInstallError, ManifestError
from lambdapipe.packaging.installer import run_installer
from lambdapipe.packaging.manifest import Manifest

PACKAGE_FILE = "package.json"
LOCK_FILE = "package-lock.json"
NPM_CPUS = {"x86_64": "x64", "arm64": "arm64"}


def production_dependencies(package_json: Path) -> dict[str, str]:
    """The ``dependencies`` table of ``package.json`` ({} without the file)."""
    if not package_json.is_file():
        return {}
    try:
        package = json.loads(package_json.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(
            None, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}", package_json
        ) from None
    dependencies = package.get("dependencies", {}) if isinstance(package, dict) else None
    if not isinstance(dependencies, dict):
        raise ManifestError("dependencies", "must be an object of package names to versions", package_json)
    return dependencies


def npm_command(npm: str, locked: bool, architecture: str, install_scripts: bool = False) -> list[str]:
    verb = ["ci"] if locked else ["install", "--no-package-lock"]
    return [
        npm,
        *verb,
        *([] if install_scripts else ["--ignore-scripts"]),  # a package's scripts run in the build
        "--omit=dev",
        "--install-links",
        "--no-audit",
        "--no-fund",
        "--os=linux",
        f"--cpu={NPM_CPUS[architecture]}",
        "--loglevel=error",
    ]


def drop_npm_leftovers(node_modules: Path) -> None:
    for links in sorted(node_modules.rglob(".bin"), reverse=True):
        shutil.rmtree(links, ignore_errors=True)
    (node_modules / ".package-lock.json").unlink(missing_ok=True)


def install_node_dependencies(
    function_dir: Path, manifest: Manifest, cache_dir: Path
) -> InstalledDependencies | None:
    """The cached ``node_modules`` for ``package.json``, or None if it has no production dependencies."""
    package_json, lock = function_dir / PACKAGE_FILE, function_dir / LOCK_FILE
    if not production_dependencies(package_json):
        return None
    npm = shutil.which("npm")
    if npm is None:
        raise DependencyInstallError(f"{package_json}: npm is not on PATH")
    locked = lock.is_file()
    key = cache_key(
        "nodejs",
        package_json.read_bytes(),
        lock.read_bytes() if locked else b"",
        manifest.runtime,
        manifest.architecture,
        str(manifest.dependencies.install_scripts),
    )

    def install(target: Path) -> None:
        shutil.copyfile(package_json, target / PACKAGE_FILE)
        if locked:
            shutil.copyfile(lock, target / LOCK_FILE)
        command = npm_command(npm, locked, manifest.architecture, manifest.dependencies.install_scripts)
        run_installer(command, target / PACKAGE_FILE)
        (target / PACKAGE_FILE).unlink()
        (target / LOCK_FILE).unlink(missing_ok=True)
        if (target / "node_modules").is_dir():
            drop_npm_leftovers(target / "node_modules")

    return cached_install(cache_dir, "nodejs", key, install)
