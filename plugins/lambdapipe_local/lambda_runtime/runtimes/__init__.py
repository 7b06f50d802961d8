"""How each Lambda runtime family is started locally: command line, sys.path and environment.

A function sees only its code, its layers and what the AWS runtime provides (awslambdaric,
boto3/botocore for Python; optionally the AWS SDK v3 for Node.js), never the host's Airflow venv
or AWS profile.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from lambdapipe_local.lambda_runtime.function_spec import FunctionSpec

log = logging.getLogger(__name__)

NODE_BOOTSTRAP = Path(__file__).with_name("node_bootstrap.js")

# What AWS's Python runtime puts on sys.path besides the function's code (/var/runtime).
PYTHON_RUNTIME_MODULES = (
    "awslambdaric",
    "runtime_client",
    "simplejson",
    "snapshot_restore_py",
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "urllib3",
    "six",
)

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIALOCALLAMBDAPIPE00",
    "AWS_SECRET_ACCESS_KEY": "lambdapipe-local-secret",
    "AWS_SESSION_TOKEN": "lambdapipe-local-session",
}


class UnsupportedRuntimeError(ValueError):
    """The function's runtime cannot be executed by the local stack."""


@dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to start one runtime process."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path


class RuntimeLauncher:
    """Builds launch specs; owns the read-only Python runtime directory shared by all functions."""

    def __init__(self, state_dir: Path, endpoint_url: str, node_sdk_dir: Path | None = None) -> None:
        self.endpoint_url = endpoint_url
        self.node_sdk_dir = node_sdk_dir
        self._python_runtime_dir = state_dir / "runtime" / "python"
        self._prepared = False
        self._lock = threading.Lock()
        self._warned_versions: set[str] = set()

    def launch_spec(
        self,
        spec: FunctionSpec,
        task_root: Path,
        opt_root: Path | None,
        runtime_api: str,
        log_stream: str,
    ) -> LaunchSpec:
        env = self._base_env(spec, task_root, runtime_api, log_stream)
        if spec.runtime.startswith("python"):
            return self._python(spec, task_root, opt_root, env)
        if spec.runtime.startswith("nodejs"):
            return self._node(spec, task_root, opt_root, env)
        raise UnsupportedRuntimeError(
            f"runtime {spec.runtime!r} of function {spec.function_name!r} is not supported locally "
            "(python3.x and nodejs18.x or newer are)"
        )

    def _base_env(self, spec: FunctionSpec, task_root: Path, runtime_api: str, log_stream: str) -> dict:
        reserved = {
            "AWS_REGION": spec.region,
            "AWS_DEFAULT_REGION": spec.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_RUNTIME_API": runtime_api,
            "LAMBDA_TASK_ROOT": str(task_root),
            "LAMBDA_RUNTIME_DIR": str(self._python_runtime_dir),
            "_HANDLER": spec.handler,
            "TZ": ":UTC",
            "LANG": "en_US.UTF-8",
            "PATH": os.pathsep.join(["/usr/local/bin", "/usr/bin", "/bin"]),
            **DUMMY_CREDENTIALS,
        }
        return {"AWS_ENDPOINT_URL": self.endpoint_url, **spec.environment, **reserved}

    def _python(self, spec: FunctionSpec, task_root: Path, opt_root: Path | None, env: dict) -> LaunchSpec:
        self._warn_on_version_mismatch(spec.runtime)
        runtime_dir = self._prepare_python_runtime()
        python_path = [str(task_root)]
        if opt_root is not None:
            version = f"python{sys.version_info.major}.{sys.version_info.minor}"
            python_path += [
                str(opt_root / "python" / "lib" / version / "site-packages"),
                str(opt_root / "python"),
            ]
        python_path.append(str(runtime_dir))
        env |= {
            "PYTHONPATH": os.pathsep.join(python_path),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        }
        # -S: no site-packages at all, so an unpackaged import fails as it does on AWS.
        argv = [sys._base_executable, "-S", "-m", "awslambdaric", spec.handler]
        return LaunchSpec(argv=argv, env=env, cwd=task_root)

    def _node(self, spec: FunctionSpec, task_root: Path, opt_root: Path | None, env: dict) -> LaunchSpec:
        node = shutil.which("node")
        if node is None:
            raise UnsupportedRuntimeError(
                f"function {spec.function_name!r} needs Node.js: `node` is not on PATH"
            )
        node_path = []
        if opt_root is not None:
            node_path += [str(opt_root / "nodejs" / "node_modules"), str(opt_root / "nodejs")]
        if self.node_sdk_dir is not None:
            node_path.append(str(self.node_sdk_dir / "node_modules"))
        env |= {"NODE_PATH": os.pathsep.join(node_path)}
        return LaunchSpec(argv=[node, str(NODE_BOOTSTRAP)], env=env, cwd=task_root)

    def _warn_on_version_mismatch(self, runtime: str) -> None:
        local = f"python{sys.version_info.major}.{sys.version_info.minor}"
        if runtime != local and runtime not in self._warned_versions:
            self._warned_versions.add(runtime)
            log.warning(
                "Functions declaring %s run on the local %s interpreter; compiled dependencies built for "
                "%s may fail to import locally.",
                runtime,
                local,
                runtime,
            )

    def _prepare_python_runtime(self) -> Path:
        """Link awslambdaric and the AWS SDK into one directory: the local /var/runtime."""
        with self._lock:
            if self._prepared:
                return self._python_runtime_dir
            self._python_runtime_dir.mkdir(parents=True, exist_ok=True)
            for module in PYTHON_RUNTIME_MODULES:
                found = importlib.util.find_spec(module)
                if found is None or found.origin is None:
                    raise UnsupportedRuntimeError(
                        f"the local Python runtime needs {module!r}: install lambdapipe with the [local] extra"
                    )
                source = Path(found.origin)
                if found.submodule_search_locations:
                    source = source.parent
                link = self._python_runtime_dir / source.name
                if not link.exists():
                    link.symlink_to(source)
            self._prepared = True
            return self._python_runtime_dir
