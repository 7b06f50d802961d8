"""The plugin's registration: cheap to import everywhere, and its UI entries agree with its pages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lambdapipe.plugin import LambdapipePlugin
from lambdapipe.provider_info import get_provider_info
from lambdapipe.ui import URL_PREFIX, URL_ROUTE

STATIC = Path(__file__).resolve().parents[3] / "plugins" / "lambdapipe" / "ui" / "static"
# Imported by the API server only: every other Airflow process loads plugins too.
SERVER_ONLY = (
    "fastapi",
    "airflow.api_fastapi.core_api.security",
    "pyiceberg",
    "pyarrow",
    "lambdapipe.ui.app",
)


def test_importing_and_instantiating_the_plugin_imports_no_web_or_table_library() -> None:
    probe = (
        "import json, sys; import lambdapipe.plugin as p; p.LambdapipePlugin().external_views; "
        f"print(json.dumps(sorted(m for m in {list(SERVER_ONLY)!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)

    assert json.loads(out.stdout.splitlines()[-1]) == []


def test_the_fastapi_app_is_built_once_per_plugin_instance() -> None:
    plugin = LambdapipePlugin()

    [app] = plugin.fastapi_apps

    assert app["url_prefix"] == URL_PREFIX
    assert plugin.fastapi_apps[0]["app"] is app["app"]


def test_the_nav_entry_and_the_pages_name_the_same_ui_route() -> None:
    [nav] = [view for view in LambdapipePlugin.external_views if view["destination"] == "nav"]

    assert (nav["url_route"], nav["href"]) == (URL_ROUTE, f"{URL_PREFIX}/")
    for page in ("index.html", "function.html"):
        assert f'data-ui-route="/plugin/{URL_ROUTE}"' in (STATIC / page).read_text(), page


def test_the_provider_lists_our_extra_links() -> None:
    assert get_provider_info()["extra-links"] == [
        "lambdapipe.links.LambdaFunctionLink",
        "lambdapipe.links.LambdaInvocationLogsLink",
    ]


def test_the_vendored_chart_library_keeps_its_license() -> None:
    vendor = STATIC / "vendor" / "uplot"

    assert "MIT License" in (vendor / "LICENSE").read_text()
    assert (vendor / "uPlot.iife.min.js").stat().st_size < 60_000
