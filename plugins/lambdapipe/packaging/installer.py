"""Run a dependency installer (pip, uv or npm) in the folder of the file it installs from."""

from __future__ import annotations

import subprocess
from pathlib import Path

from lambdapipe.packaging.errors import DependencyInstallError
from lambdapipe.utils import child_processes

INSTALL_TIMEOUT_S = 900


def run_installer(command: list[str], source: Path) -> None:
    """Run an installer; a failure names the file being installed and shows the tool's output.

    Tied to this process: a deploy task killed mid-install, or a timeout, leaves no installer running.
    """
    try:
        completed = child_processes.run(
            command, cwd=source.parent, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
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
