"""``lambdapipe local`` in its own process, for tests and benchmarks whose clients reach it only over
HTTP: its moto state is its own, where an in-process ``LocalAws`` shares moto's process-wide state
with every other stack in the same test worker."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from lambdapipe.utils.child_processes import spawn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class LocalAwsServer:
    url: str
    process: subprocess.Popen  # the tether ``spawn`` puts in front of the server

    @property
    def server_pid(self) -> int:
        """The server's own process (a SIGKILL to the tether would leave it running)."""
        [server] = psutil.Process(self.process.pid).children()
        return server.pid


@contextlib.contextmanager
def local_aws_process(state_dir: Path, *, persistent: bool = False) -> Iterator[str]:
    """``lambdapipe local`` in its own process on a free loopback port; stopped (by PID) on exit."""
    with local_aws_server(state_dir, persistent=persistent) as server:
        yield server.url


@contextlib.contextmanager
def local_aws_server(state_dir: Path, *, persistent: bool = False) -> Iterator[LocalAwsServer]:
    """As ``local_aws_process``, with the process at hand (to kill it); ``persistent`` keeps the AWS
    state in ``state_dir`` across servers, as `lambdapipe local` does by default."""
    port = free_port()
    args = ["--port", str(port), "--state-dir", str(state_dir), *([] if persistent else ["--ephemeral"])]
    argv = [str(Path(sys.executable).parent / "lambdapipe"), "local", *args]
    state_dir.mkdir(parents=True, exist_ok=True)
    log = (state_dir.parent / "local-aws.log").open("ab")
    # Tied to this process: a benchmark ended by SIGTERM or SIGKILL leaves no server behind.
    process = spawn(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError):
                urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
                    f"{url}/_lambdapipe/runtime", timeout=2
                )
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"local AWS did not start; see {log.name}")
            time.sleep(0.2)
        yield LocalAwsServer(url, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
