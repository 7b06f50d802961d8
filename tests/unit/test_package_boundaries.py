"""Three packages: ``lambdapipe`` (the provider) never imports the demo or the local AWS stack.

A user who installs the provider gets neither, so an import of ``lambdapipe_demo`` or
``lambdapipe_local`` anywhere in ``plugins/lambdapipe`` (a static import, or a ``"module:function"``
string imported later) would fail on their machine however well the suite passes here. The local stack
is a distribution of its own that needs no Airflow: it imports neither the provider nor Airflow.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
PROVIDER = PLUGINS / "lambdapipe"
LOCAL_STACK = PLUGINS / "lambdapipe_local"
OUTSIDE_THE_PROVIDER = ("lambdapipe_demo", "lambdapipe_local")
OUTSIDE_THE_LOCAL_STACK = ("lambdapipe", "lambdapipe_demo", "airflow")
# A string that is nothing but a dotted module path (optionally ":function"): a dynamic import target.
IMPORT_TARGET = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*)?")


def _is_import_target(value: object) -> bool:
    return isinstance(value, str) and "." in value and IMPORT_TARGET.fullmatch(value) is not None


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
        elif isinstance(node, ast.Constant) and _is_import_target(node.value):
            modules.add(node.value.partition(":")[0])
    return modules


def _crossings(package: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path.relative_to(PLUGINS)} imports {module}"
        for path in package.rglob("*.py")
        for module in _imported_modules(path)
        if module.split(".")[0] in forbidden
    )


def test_the_provider_never_imports_the_demo_application_or_the_local_stack() -> None:
    assert _crossings(PROVIDER, OUTSIDE_THE_PROVIDER) == []


def test_the_local_stack_imports_neither_the_provider_nor_airflow() -> None:
    assert _crossings(LOCAL_STACK, OUTSIDE_THE_LOCAL_STACK) == []


def test_the_boundary_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from lambdapipe_demo.tables import TABLES\n    return TABLES\n")

    assert "lambdapipe_demo.tables" in _imported_modules(module)


def test_the_boundary_check_sees_a_dynamic_import_target(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('COMMANDS = {"local": "lambdapipe_local.server:main"}\n')

    assert "lambdapipe_local.server" in _imported_modules(module)
