"""Run a dependency installer (pip, uv or npm) in the folder of the file it installs from."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from lambdapipe.packaging.errors import DependencyInstallError
from lambdapipe.utils import child_processes

INSTALL_TIMEOUT_S = 900
# What an installer may see of the deploy's environment: its tools, locale, temp dir, proxies, CA
# bundles and its own configuration (pip's, uv's, npm's), never AWS credentials or AIRFLOW_CONN_*.
PASSED_VARIABLES = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TEMP", "TMP"}
    | {"XDG_CACHE_HOME", "XDG_CONFIG_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"}
    | {"CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"}
    | {"http_proxy", "https_proxy", "no_proxy"}
)
PASSED_PREFIXES = ("PIP_", "UV_", "NPM_CONFIG_", "npm_config_")


def installer_environment() -> dict[str, str]:
    """The deploy's environment cut down to what installers need: they run third-party code."""
    return {
        name: value
        for name, value in os.environ.items()
        if name in PASSED_VARIABLES or name.startswith(PASSED_PREFIXES)
    }


def run_installer(command: list[str], source: Path) -> None:
    """Run an installer; a failure names the file being installed and shows the tool's output.

    Tied to this process: a deploy task killed mid-install, or a timeout, leaves no installer running.
    """
    try:
        completed = child_processes.run(
            command,
            cwd=source.parent,
            env=installer_environment(),
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise DependencyInstallError(
            f"{source}: {command[0]} did not finish in {INSTALL_TIMEOUT_S} s"
        ) from None
    if completed.returncode != 0:
        output = (completed.stderr or completed.stdout).strip()[-3000:]
        raise DependencyInstallError(
            f"{source}: installing dependencies failed (exit {completed.returncode}): {' '.join(command)}\n{output}"
        )
