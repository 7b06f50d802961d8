"""Turn ``lambda_functions/<name>/`` folders into deployable Lambda packages.

- :func:`load_manifest` reads ``function.toml`` (:mod:`.manifest`), :func:`load_test_events` the
  saved ``events/*.json`` (:mod:`.sample_events`);
- :func:`build_package` makes the reproducible zip with dependencies (:mod:`.build`);
- :mod:`.lambda_api` turns a manifest into Lambda/IAM request arguments for the deploy hook.
"""

from lambdapipe.packaging.build import BuildResult, PackageLimits, build_package
from lambdapipe.packaging.errors import (
    DependencyInstallError,
    ManifestError,
    PackageTooLargeError,
    PackagingError,
    UnsafePathError,
)
from lambdapipe.packaging.manifest import EventInvokeConfig, Manifest, Permission, load_manifest
from lambdapipe.packaging.sample_events import load_test_events

__all__ = [
    "BuildResult",
    "DependencyInstallError",
    "EventInvokeConfig",
    "Manifest",
    "ManifestError",
    "PackageLimits",
    "PackageTooLargeError",
    "PackagingError",
    "Permission",
    "UnsafePathError",
    "build_package",
    "load_manifest",
    "load_test_events",
]
