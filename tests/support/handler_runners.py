"""Run a packaged handler the way Lambda does: only the package (and, for Python, boto3) importable.

Python runs as ``python -I -S`` (no site-packages, no PYTHONPATH) with ``sys.path`` = the unzipped
package + a folder linking boto3 and its dependencies (the runtime's), so a dependency missing
from the package fails to import. Node.js runs ``node -e`` with no NODE_PATH. Each run invokes a
list of events in one process and reports one outcome per event plus the peak RSS (``VmHWM``:
getrusage's maxrss would include the forking pytest process's).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The Lambda Python runtime ships boto3 and its dependencies; nothing else.
RUNTIME_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")

PYTHON_RUNNER = r"""
import importlib, json, sys
package, runtime, handler, events_file, results_file = sys.argv[1:6]
sys.path[:0] = [package, runtime]

class Context:
    function_name = "test-function"
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "test"
    def get_remaining_time_in_millis(self):
        return 30000

module_path, _, function = handler.rpartition(".")
entry = getattr(importlib.import_module(module_path.replace("/", ".")), function)
outcomes = []
with open(events_file) as stream:
    events = json.load(stream)
for event in events:
    try:
        outcomes.append({"result": entry(event, Context())})
    except Exception as exc:
        outcomes.append({"error": {"errorType": type(exc).__name__, "errorMessage": str(exc)}})
with open("/proc/self/status") as status:
    peak_kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
with open(results_file, "w") as stream:
    json.dump({"outcomes": outcomes, "peak_rss_mb": peak_kib / 1024}, stream)
"""

NODE_RUNNER = r"""
const fs = require("fs");
const [modulePath, exportName, eventsFile, resultsFile] = process.argv.slice(1);
(async () => {
  const entry = require(modulePath)[exportName];
  const outcomes = [];
  for (const event of JSON.parse(fs.readFileSync(eventsFile, "utf8"))) {
    try {
      outcomes.push({ result: await entry(event, {}) });
    } catch (error) {
      outcomes.push({ error: { errorType: error.name, errorMessage: error.message } });
    }
  }
  const status = fs.readFileSync("/proc/self/status", "utf8");
  const peak = Number(status.match(/^VmHWM:\s+(\d+)/m)[1]) / 1024;
  fs.writeFileSync(resultsFile, JSON.stringify({ outcomes, peak_rss_mb: peak }));
})();
"""


@dataclass(frozen=True)
class Run:
    """What one handler process did: an outcome per event, its log output and its peak memory."""

    outcomes: list[dict[str, Any]]
    logs: str
    peak_rss_mb: float

    @property
    def results(self) -> list[Any]:
        """Every event's return value; fails the test if any event raised."""
        errors = [outcome["error"] for outcome in self.outcomes if "error" in outcome]
        assert not errors, f"handler raised: {errors}\n{self.logs}"
        return [outcome["result"] for outcome in self.outcomes]


def link_boto3_runtime(target: Path) -> Path:
    """A folder holding only boto3 and its dependencies (links into this venv): the runtime's SDK."""
    target.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_MODULES:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, f"{name} is not installed in the test venv"
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (target / source.name).symlink_to(source, target_is_directory=source.is_dir())
    return target


def _run(command: list[str], events: list[Any], workdir: Path, env: dict[str, str]) -> Run:
    workdir.mkdir(parents=True, exist_ok=True)
    events_file, results_file = workdir / "events.json", workdir / "results.json"
    events_file.write_text(json.dumps(events))
    results_file.unlink(missing_ok=True)
    completed = subprocess.run(
        [*command, str(events_file), str(results_file)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=workdir,
        check=False,
    )
    logs = completed.stdout + completed.stderr
    assert completed.returncode == 0 and results_file.exists(), (
        f"runner failed ({completed.returncode}):\n{logs}"
    )
    report = json.loads(results_file.read_text())
    return Run(outcomes=report["outcomes"], logs=logs, peak_rss_mb=report["peak_rss_mb"])


def run_python(
    package: Path, runtime: Path, handler: str, events: list[Any], workdir: Path, env: dict[str, str]
) -> Run:
    command = [sys.executable, "-I", "-S", "-c", PYTHON_RUNNER, str(package), str(runtime), handler]
    return _run(command, events, workdir, {"PATH": os.environ["PATH"], **env})


def run_node(package: Path, handler: str, events: list[Any], workdir: Path, env: dict[str, str]) -> Run:
    module, _, export = handler.rpartition(".")
    command = ["node", "-e", NODE_RUNNER, str(package / module), export]
    return _run(command, events, workdir, {"PATH": os.environ["PATH"], **env})
