"""The provider is one package: ``lambdapipe`` never imports the demo application.

A user who installs the provider gets no demo code, so an import of ``lambdapipe_demo`` anywhere in
``plugins/lambdapipe`` would fail on their machine however well the suite passes here.
"""

from __future__ import annotations

import ast
from pathlib import Path

PROVIDER = Path(__file__).resolve().parents[1] / "plugins" / "lambdapipe"
OUTSIDE_THE_PROVIDER = ("lambdapipe_demo",)


def _imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def test_the_provider_never_imports_the_demo_application() -> None:
    crossings = sorted(
        f"{path.relative_to(PROVIDER.parent)} imports {module}"
        for path in PROVIDER.rglob("*.py")
        for module in _imported_modules(path)
        if module.split(".")[0] in OUTSIDE_THE_PROVIDER
    )

    assert crossings == []


def test_the_boundary_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from lambdapipe_demo.tables import TABLES\n    return TABLES\n")

    assert "lambdapipe_demo.tables" in _imported_modules(module)
