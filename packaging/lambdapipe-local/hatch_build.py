"""Ship ``plugins/lambdapipe_local`` in the wheel and sdist, but not in an editable install.

The code lives outside this folder. A static ``force-include`` would also copy it into an editable
install's site-packages, where the copy shadows the checkout; the editable install reaches the
checkout through ``dev-mode-dirs`` instead.
"""

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# In the checkout the package is two folders up; an unpacked sdist has it beside this file, where
# hatch finds it by the project's name.
CHECKOUT_PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "lambdapipe_local"


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version != "editable" and CHECKOUT_PACKAGE.is_dir():
            build_data["force_include"][str(CHECKOUT_PACKAGE)] = "lambdapipe_local"
