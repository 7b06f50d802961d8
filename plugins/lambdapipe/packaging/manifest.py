"""The function manifest, ``lambda_functions/<name>/function.toml``, as small validated dataclasses.

Example::

    runtime = "python3.11"          # python3.9+ or nodejs18.x+
    handler = "app.handler"         # module.function (Node.js: file.export)
    architecture = "x86_64"         # or "arm64"
    memory = 512                    # MB, 128-10240
    timeout = 30                    # seconds, 1-900
    description = "Resizes uploaded images"
    alias = "live"                  # the alias a deploy moves
    excludes = ["docs/", "*.md"]    # gitignore-style, on top of the defaults
    layers = ["../../lambda_layers/common"]   # folders (relative to this one) or layer version ARNs
    deployment = "Canary10Percent5Minutes"    # how the alias moves; steps and health checks:
                                              # deployment_settings.py (default AllAtOnce)

    [environment]
    MAX_SIDE = "256"                # values are strings, as Lambda stores them

    [[permissions]]                 # least privilege: wildcard actions and resources need allow_wildcard = true
                                    # (what counts as a wildcard resource: resource_arns.py)
    actions = ["s3:GetObject"]
    resources = ["arn:aws:s3:::uploads/*"]

    [event_invoke]
    maximum_retry_attempts = 1
    on_failure = "image-resize-failures"   # an SQS queue name, or any destination ARN

    [http]                          # HTTP into the function, created and kept in line by each deploy
    routes = ["GET /greeting"]      # API Gateway route keys: METHOD /path, ANY, {param}, {proxy+}
    apis = ["http-api"]             # any of "http-api" (payload 2.0), "rest-api" (1.0), "function-url"
    stage = "live"                  # the REST API's stage (an HTTP API serves its $default stage)
    binary_media_types = []         # REST API: request types passed base64-encoded, e.g. "image/*"

    [dependencies]                  # both off by default: what the build may run or fetch from
    install_scripts = false         # npm lifecycle scripts of the packages
    package_sources = false         # URLs, --trusted-host, --no-binary, -e ... in requirements.txt

Every dataclass checks itself in ``__post_init__`` (so one built in code is checked too);
:func:`load_manifest` adds the file and the full field path to the error.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path, PurePosixPath
from typing import Any

from lambdapipe.packaging.deployment_settings import DeploymentSettings, deployment_from_toml
from lambdapipe.packaging.errors import ManifestError
from lambdapipe.packaging.http_settings import HttpSettings
from lambdapipe.packaging.layers import MAX_LAYERS, check_layer_entry
from lambdapipe.packaging.manifest_checks import check_range, check_type, string_tuple
from lambdapipe.packaging.resource_arns import is_over_broad_resource

MANIFEST_FILE = "function.toml"

MIN_PYTHON_MINOR = 9
MIN_NODE_MAJOR = 18
ARCHITECTURES = ("x86_64", "arm64")
MEMORY_RANGE_MB = (128, 10240)
TIMEOUT_RANGE_S = (1, 900)
RETRY_RANGE = (0, 2)
EVENT_AGE_RANGE_S = (60, 21600)
ENVIRONMENT_MAX_BYTES = 4096

# Keys Lambda sets itself and refuses in a function's configuration.
RESERVED_ENVIRONMENT_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_DEFAULT_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "LAMBDA_RUNTIME_DIR",
        "LAMBDA_TASK_ROOT",
    }
)

_PYTHON_RUNTIME = re.compile(r"python3\.(\d+)")
_NODE_RUNTIME = re.compile(r"nodejs(\d+)\.x")
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_HANDLER = re.compile(r"(?P<module>[A-Za-z0-9_][A-Za-z0-9_./-]*)\.(?P<function>[A-Za-z_$][A-Za-z0-9_$]*)")
_ALIAS = re.compile(r"(?!^[0-9]+$)[A-Za-z0-9_-]{1,128}")
_ENV_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]+")
_ACTION = re.compile(r"[a-z0-9-]+:[A-Za-z0-9*?]+")
_SID = re.compile(r"[A-Za-z0-9]+")
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_DESTINATION_ARN = re.compile(r"arn:aws[a-z-]*:(?P<service>sqs|sns|lambda|events|s3):[^\s]*")


def _has_parent_reference(path: str) -> bool:
    return ".." in PurePosixPath(path).parts


@dataclass(frozen=True)
class Permission:
    """One least-privilege IAM statement of the function's execution role.

    An ``Allow`` with a wildcard action, or with a resource that reaches more than the resources it
    names (``*``; a wildcard in the partition, service, region, account, resource type or name;
    ``role/path/*``, ``accesspoint/*``, ``secret:db-*``), needs ``allow_wildcard = true``. Patterns
    inside one named resource are fine: ``bucket/prefix/*``, ``table/t/index/*``, an API's
    ``<api-id>/*/GET/path``, a secret's ``<name>-??????``. The full rule:
    :mod:`lambdapipe.packaging.resource_arns`.
    """

    actions: tuple[str, ...]
    resources: tuple[str, ...]
    effect: str = "Allow"
    allow_wildcard: bool = False
    sid: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "actions", string_tuple("actions", self.actions, allow_empty=False))
        object.__setattr__(self, "resources", string_tuple("resources", self.resources, allow_empty=False))
        if self.effect not in ("Allow", "Deny"):
            raise ManifestError("effect", f'must be "Allow" or "Deny" (got {self.effect!r})')
        check_type("allow_wildcard", self.allow_wildcard, bool, "true or false")
        if self.sid is not None and not (isinstance(self.sid, str) and _SID.fullmatch(self.sid)):
            raise ManifestError("sid", f"must be letters and digits only (got {self.sid!r})")
        for index, action in enumerate(self.actions):
            if action != "*" and not _ACTION.fullmatch(action):
                raise ManifestError(f"actions[{index}]", f'must look like "service:Action" (got {action!r})')
            if ("*" in action or "?" in action) and not self.allow_wildcard:
                raise ManifestError(
                    f"actions[{index}]",
                    f"wildcard action {action!r} is not least privilege: list the actions the function "
                    "needs, or set allow_wildcard = true in this statement",
                )
        for index, resource in enumerate(self.resources):
            if resource != "*" and not resource.startswith("arn:"):
                raise ManifestError(f"resources[{index}]", f'must be an ARN or "*" (got {resource!r})')
            # A Deny may be broad: it takes privileges away. The rule: packaging/resource_arns.py.
            if self.effect == "Allow" and is_over_broad_resource(resource) and not self.allow_wildcard:
                raise ManifestError(
                    f"resources[{index}]",
                    f"wildcard resource {resource!r} is not least privilege: name the bucket, table, queue, "
                    "role or function (an S3 key prefix, an API's stage and route may be patterns; a "
                    "secret is <name>-??????), or set allow_wildcard = true in this statement",
                )


@dataclass(frozen=True)
class DependencyOptions:
    """What a deploy lets the dependency installers do beyond installing from the default index."""

    install_scripts: bool = False  # npm runs packages' lifecycle scripts (code run at build time)
    package_sources: bool = False  # requirements.txt may name indexes, trusted hosts or URLs

    def __post_init__(self) -> None:
        check_type("install_scripts", self.install_scripts, bool, "true or false")
        check_type("package_sources", self.package_sources, bool, "true or false")


@dataclass(frozen=True)
class EventInvokeConfig:
    """Asynchronous-invocation settings: retries, maximum event age and destinations.

    A destination is an ARN (SQS, SNS, Lambda, EventBridge; S3 for failures) or the name of an SQS
    queue in the deploy account and region (see ``lambda_api.destination_arn``).
    """

    maximum_retry_attempts: int | None = None
    maximum_event_age_seconds: int | None = None
    on_success: str | None = None
    on_failure: str | None = None

    def __post_init__(self) -> None:
        if self.maximum_retry_attempts is not None:
            check_range("maximum_retry_attempts", self.maximum_retry_attempts, RETRY_RANGE, "attempts")
        if self.maximum_event_age_seconds is not None:
            check_range("maximum_event_age_seconds", self.maximum_event_age_seconds, EVENT_AGE_RANGE_S, "s")
        for name in ("on_success", "on_failure"):
            value = getattr(self, name)
            if value is None:
                continue
            check_type(name, value, str, "a destination ARN or an SQS queue name")
            arn = _DESTINATION_ARN.fullmatch(value)
            if arn and arn["service"] == "s3" and name == "on_success":
                raise ManifestError(name, "an S3 bucket can only be an on_failure destination")
            if not arn and not _QUEUE_NAME.fullmatch(value):
                raise ManifestError(
                    name,
                    "must be an SQS, SNS, Lambda or EventBridge ARN, or an SQS queue name "
                    f"(letters, digits, - and _, at most 80) (got {value!r})",
                )


@dataclass(frozen=True)
class Manifest:
    """What a deploy needs to know about one function besides its code."""

    name: str
    runtime: str
    handler: str
    architecture: str = "x86_64"
    memory: int = 128
    timeout: int = 3
    environment: dict[str, str] = field(default_factory=dict)
    description: str = ""
    alias: str = "live"
    permissions: tuple[Permission, ...] = ()
    event_invoke: EventInvokeConfig | None = None
    excludes: tuple[str, ...] = ()
    dependencies: DependencyOptions = field(default_factory=DependencyOptions)
    http: HttpSettings | None = None
    layers: tuple[str, ...] = ()  # layer version ARNs, or folders relative to this one (packaging/layers.py)
    deployment: DeploymentSettings = field(default_factory=DeploymentSettings)

    def __post_init__(self) -> None:
        check_type("name", self.name, str, "a string")
        if not _FUNCTION_NAME.fullmatch(self.name):
            raise ManifestError("name", f"must be 1-64 letters, digits, - or _ (got {self.name!r})")
        self._check_runtime()
        self._check_handler()
        if self.architecture not in ARCHITECTURES:
            raise ManifestError("architecture", f"must be one of {ARCHITECTURES} (got {self.architecture!r})")
        check_range("memory", self.memory, MEMORY_RANGE_MB, "MB")
        check_range("timeout", self.timeout, TIMEOUT_RANGE_S, "s")
        self._check_environment()
        check_type("description", self.description, str, "a string")
        if len(self.description) > 256:
            raise ManifestError(
                "description", f"must be at most 256 characters (got {len(self.description)})"
            )
        check_type("alias", self.alias, str, "a string")
        if not _ALIAS.fullmatch(self.alias):
            raise ManifestError(
                "alias", f"must be 1-128 letters, digits, - or _, not only digits ({self.alias!r})"
            )
        object.__setattr__(self, "permissions", tuple(self.permissions))
        for index, permission in enumerate(self.permissions):
            check_type(f"permissions[{index}]", permission, Permission, "a Permission")
        if self.event_invoke is not None:
            check_type("event_invoke", self.event_invoke, EventInvokeConfig, "an EventInvokeConfig")
        check_type("dependencies", self.dependencies, DependencyOptions, "a DependencyOptions")
        if self.http is not None:
            check_type("http", self.http, HttpSettings, "an HttpSettings")
        object.__setattr__(self, "layers", string_tuple("layers", self.layers, allow_empty=True))
        if len(self.layers) > MAX_LAYERS:
            raise ManifestError("layers", f"lists {len(self.layers)} layers; Lambda allows {MAX_LAYERS}")
        for index, entry in enumerate(self.layers):
            check_layer_entry(f"layers[{index}]", entry)
        if not isinstance(self.deployment, DeploymentSettings):  # a string or table, e.g. from overrides
            object.__setattr__(self, "deployment", deployment_from_toml(self.deployment))
        object.__setattr__(self, "excludes", string_tuple("excludes", self.excludes, allow_empty=True))
        for index, pattern in enumerate(self.excludes):
            if _has_parent_reference(pattern):
                raise ManifestError(f"excludes[{index}]", f"must not contain '..' (got {pattern!r})")

    @property
    def language(self) -> str:
        """``"python"`` or ``"nodejs"``."""
        return "python" if self.runtime.startswith("python") else "nodejs"

    @property
    def python_version(self) -> str:
        """``"3.11"`` for ``python3.11``; the version dependencies are installed for."""
        if self.language != "python":
            raise ValueError(f"{self.name} runs {self.runtime}, not Python")
        return self.runtime.removeprefix("python")

    @property
    def handler_module(self) -> str:
        """The handler's module as a path without extension (``pkg/app`` for ``pkg.app.handler``)."""
        module = _HANDLER.fullmatch(self.handler)["module"]  # the pattern was checked in __post_init__
        return module.replace(".", "/") if self.language == "python" else module

    def _check_runtime(self) -> None:
        check_type("runtime", self.runtime, str, "a string")
        python, node = _PYTHON_RUNTIME.fullmatch(self.runtime), _NODE_RUNTIME.fullmatch(self.runtime)
        if (python and int(python[1]) >= MIN_PYTHON_MINOR) or (node and int(node[1]) >= MIN_NODE_MAJOR):
            return
        raise ManifestError(
            "runtime",
            f"must be python3.{MIN_PYTHON_MINOR} or later, or nodejs{MIN_NODE_MAJOR}.x or later "
            f"(got {self.runtime!r})",
        )

    def _check_handler(self) -> None:
        check_type("handler", self.handler, str, "a string")
        if not _HANDLER.fullmatch(self.handler) or _has_parent_reference(self.handler):
            raise ManifestError(
                "handler",
                f'must be "module.function" inside the function folder, e.g. "app.handler" (got {self.handler!r})',
            )

    def _check_environment(self) -> None:
        check_type("environment", self.environment, dict, "a table of strings")
        for key, value in self.environment.items():
            if not _ENV_KEY.fullmatch(key):
                raise ManifestError(
                    f"environment.{key}",
                    "name must be a letter then at least one more letter, digit or _ (Lambda's rule)",
                )
            if key in RESERVED_ENVIRONMENT_KEYS:
                raise ManifestError(f"environment.{key}", "is reserved: Lambda sets it itself")
            check_type(f"environment.{key}", value, str, 'a string (quote numbers: MAX_SIDE = "256")')
        size = sum(len(key.encode()) + len(value.encode()) for key, value in self.environment.items())
        if size > ENVIRONMENT_MAX_BYTES:
            raise ManifestError("environment", f"is {size} bytes; Lambda allows {ENVIRONMENT_MAX_BYTES}")


def _check_keys(table: dict[str, Any], cls: type, parent: str = "") -> None:
    allowed = [f.name for f in fields(cls)]
    for key in table:
        if key not in allowed:
            raise ManifestError(
                f"{parent}.{key}" if parent else key, f"unknown field; expected one of: {', '.join(allowed)}"
            )


def _build_table(cls: type, table: Any, parent: str) -> Any:
    """Build a nested dataclass from a TOML table; errors name ``parent.field``."""
    check_type(parent, table, dict, "a table")
    _check_keys(table, cls, parent)
    try:
        return cls(**table)
    except ManifestError as exc:
        raise ManifestError(f"{parent}.{exc.field}" if exc.field else parent, exc.problem) from None
    except TypeError as exc:  # a required field is missing
        raise ManifestError(parent, str(exc).split(".__init__() ", 1)[-1]) from None


def manifest_from_table(table: dict[str, Any], default_name: str) -> Manifest:
    """Build a :class:`Manifest` from a parsed ``function.toml`` (errors carry no file)."""
    _check_keys(table, Manifest)
    for required in ("runtime", "handler"):
        if required not in table:
            raise ManifestError(required, "is required")
    values = dict(table)
    values.setdefault("name", default_name)
    permissions = values.get("permissions", [])
    check_type("permissions", permissions, list, "an array of tables ([[permissions]])")
    values["permissions"] = tuple(
        _build_table(Permission, item, f"permissions[{index}]") for index, item in enumerate(permissions)
    )
    if "event_invoke" in values:
        values["event_invoke"] = _build_table(EventInvokeConfig, values["event_invoke"], "event_invoke")
    if "dependencies" in values:
        values["dependencies"] = _build_table(DependencyOptions, values["dependencies"], "dependencies")
    if "http" in values:
        values["http"] = _build_table(HttpSettings, values["http"], "http")
    if "deployment" in values:
        values["deployment"] = deployment_from_toml(values["deployment"])
    return Manifest(**values)


def load_manifest(function_dir: Path | str) -> Manifest:
    """Read and validate ``function_dir/function.toml``; the name defaults to the folder's name."""
    path = Path(function_dir) / MANIFEST_FILE
    if not path.is_file():
        raise ManifestError(None, "not found: every function folder needs a function.toml", path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ManifestError(None, f"not UTF-8 text (byte {exc.start}): TOML files are UTF-8", path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(None, f"invalid TOML: {exc}", path) from None
    try:
        return manifest_from_table(table, default_name=path.resolve().parent.name)
    except ManifestError as exc:
        raise exc.located(path) from None
