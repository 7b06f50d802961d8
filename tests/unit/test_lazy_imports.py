"""An import sits inside a function only when it must: each module allowed there is listed with why.

Importing at the top says what a module depends on; deferring is for what would slow every DAG
parse, CLI call or Airflow process (tests/unit/test_import_cost.py measures that). The provider had
163 function-level imports, most of them our own light modules; this keeps them from coming back.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROVIDER = Path(__file__).resolve().parents[2] / "plugins" / "lambdapipe"
# Module (or package prefix) -> why a function may import it instead of the module's top.
MAY_BE_DEFERRED = {
    "pyarrow": "hundreds of ms; DAG files import the operators and tables definitions that use it",
    "pyiceberg": "as pyarrow: loaded only when a table is read or written",
    "airflow.providers.amazon.aws.hooks.s3": "boto3's S3 transfer stack (~100 ms) for payload claim checks only",
    # lambdapipe.tables.config (table assets) and lambdapipe.triggers.base (DynamoDBStreamTrigger in an
    # AssetWatcher) are imported while DAG files are parsed, also by DAGs with no AWS operator: Airflow's
    # AWS hooks and boto3 (~110-150 ms) load only when a catalog is configured or a trigger runs.
    "boto3": "see the comment above",
    "airflow.providers.amazon.aws.hooks.base_aws": "see the comment above",
    "airflow.providers.common.compat.sdk": "see the comment above",
    "airflow.configuration": "lambdapipe.settings reads Airflow's configuration only when asked: the CLI "
    "imports it (through tables.config) before it sets Airflow's log level, which Airflow reads once",
    "lambdapipe.tables.catalog": "imports pyiceberg's catalogs at its top",
    "lambdapipe.tables.conform": "imports pyarrow at its top",
    "lambdapipe.tables.evolution": "imports pyiceberg and pyarrow at its top",
    "lambdapipe.tables.writer": "imports pyiceberg and pyarrow at its top",
    "lambdapipe.tables.run_set": "reads tables with pyiceberg",
    "lambdapipe.tables.run_files": "imports pyiceberg and pyarrow at its top",
    "lambdapipe.ui.app": "FastAPI: only the API server mounts the app, every Airflow process imports the plugin",
}
# Importing modules (path under plugins/) -> why they may defer any import.
DEFERRING_MODULES = {
    "lambdapipe/commands/": "a CLI subcommand imports Airflow only once it has set Airflow's log level "
    "or redirected stdout: Airflow binds its logging when first imported, and stdout is for results",
}


def _deferred_imports() -> list[tuple[str, int, str]]:
    """(file, line, module) of every import inside a function of the provider."""
    found = []
    for path in sorted(PROVIDER.rglob("*.py")):
        if str(path.relative_to(PROVIDER.parent)).startswith(tuple(DEFERRING_MODULES)):
            continue
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    modules = [("." * node.level) + (node.module or "")]
                else:
                    continue
                found += [(str(path.relative_to(PROVIDER.parent)), node.lineno, module) for module in modules]
    return found


def _allowed(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in MAY_BE_DEFERRED)


def test_a_function_imports_only_modules_that_would_slow_parsing_or_every_airflow_process() -> None:
    stray = [
        f"{file}:{line} imports {module}"
        for file, line, module in _deferred_imports()
        if not _allowed(module)
    ]

    assert not stray, "move these to the module's top, or list the module in MAY_BE_DEFERRED with why"


@pytest.mark.parametrize("module", sorted(MAY_BE_DEFERRED))
def test_every_listed_module_is_still_imported_in_a_function_somewhere(module: str) -> None:
    deferred = {found for _, _, found in _deferred_imports()}

    assert any(found == module or found.startswith(f"{module}.") for found in deferred), (
        f"{module} is no longer deferred anywhere: drop it from MAY_BE_DEFERRED"
    )
