"""lambdapipe registers with Airflow exactly once, however it is deployed.

Three set-ups, each a real Python environment with Airflow:
- installed: the built wheel in site-packages, an empty plugins folder;
- plugins folder: no lambdapipe distribution, Airflow's plugins folder is this repo's plugins/
  (Astro style: Airflow puts the folder on sys.path and imports plugins/lambdapipe_plugin.py);
- both: the wheel installed and the plugins folder pointed at plugins/.
The environments are symlink copies of the dev venv's site-packages without the lambdapipe
distribution, so they cost a fraction of a second instead of a full install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
import warnings
import zipfile
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest
from airflow._shared.module_loading import find_path_from_directory
from airflow.providers_manager import _create_provider_info_schema_validator

import lambdapipe
from lambdapipe.provider_info import get_provider_info

DISTRIBUTION = "airflow-provider-lambdapipe"
PLUGIN_NAME = "lambdapipe"

# Runs in the environment under test; writes what Airflow registered to the file named by argv[1].
PROBE = """
import json, sys
from pathlib import Path
from airflow import plugins_manager, settings
from airflow.providers_manager import ProvidersManager

plugins = plugins_manager.get_plugin_info()
import lambdapipe

package_dir = Path(settings.PLUGINS_FOLDER).resolve() / "lambdapipe"
stray = sorted(
    name for name, module in list(sys.modules.items())
    if getattr(module, "__file__", None) and not name.startswith("lambdapipe")
    and package_dir in Path(module.__file__).resolve().parents
)
Path(sys.argv[1]).write_text(json.dumps({
    "plugins": [[p["name"], str(p["source"])] for p in plugins],
    "import_errors": plugins_manager.get_import_errors(),
    "providers": list(ProvidersManager().providers),
    "lambdapipe_file": lambdapipe.__file__,
    "stray_modules": stray,
}))
"""


@dataclass(frozen=True)
class Environment:
    python: Path
    site_packages: Path


def _environment_without_lambdapipe(root: Path) -> Environment:
    """A venv seeing the dev venv's packages (symlinked) except the lambdapipe distribution."""
    venv.EnvBuilder(symlinks=True, with_pip=False).create(root)
    dev_site = Path(sysconfig.get_paths()["purelib"])
    site = root / "lib" / dev_site.parent.name / "site-packages"
    for entry in dev_site.iterdir():
        if "airflow_provider_lambdapipe" in entry.name or entry.name == "lambdapipe":
            continue
        (site / entry.name).symlink_to(entry)
    return Environment(root / "bin" / "python", site)


@pytest.fixture(scope="module")
def bare_env(tmp_path_factory: pytest.TempPathFactory) -> Environment:
    return _environment_without_lambdapipe(tmp_path_factory.mktemp("bare-env"))


@pytest.fixture(scope="module")
def installed_env(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Environment:
    env = _environment_without_lambdapipe(tmp_path_factory.mktemp("installed-env"))
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(env.site_packages)
    return env


def _probe(python: Path, plugins_folder: Path, tmp_path: Path) -> dict:
    result = tmp_path / "probe.json"
    subprocess.run(
        [str(python), "-c", PROBE, str(result)],
        check=True,
        env={**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(plugins_folder)},
    )
    return json.loads(result.read_text())


def test_installed_distribution_registers_provider_and_plugin_once(
    installed_env: Environment, tmp_path: Path
) -> None:
    empty_plugins = tmp_path / "plugins"
    empty_plugins.mkdir()
    seen = _probe(installed_env.python, empty_plugins, tmp_path)

    assert [name for name, _ in seen["plugins"]] == [PLUGIN_NAME]
    assert seen["plugins"][0][1].startswith(f"{DISTRIBUTION}=="), "registered by the entry point"
    assert seen["import_errors"] == {}
    assert seen["providers"].count(DISTRIBUTION) == 1
    assert Path(seen["lambdapipe_file"]).is_relative_to(installed_env.site_packages)


def test_plugins_folder_alone_registers_the_plugin_once(
    bare_env: Environment, repo_root: Path, tmp_path: Path
) -> None:
    seen = _probe(bare_env.python, repo_root / "plugins", tmp_path)

    assert seen["plugins"] == [[PLUGIN_NAME, "$PLUGINS_FOLDER/lambdapipe_plugin.py"]]
    assert seen["import_errors"] == {}
    assert seen["stray_modules"] == []
    # Airflow discovers providers only from installed distributions' metadata.
    assert DISTRIBUTION not in seen["providers"]
    assert Path(seen["lambdapipe_file"]).is_relative_to(repo_root / "plugins")


def test_installed_plus_plugins_folder_registers_each_once_without_import_errors(
    installed_env: Environment, repo_root: Path, tmp_path: Path
) -> None:
    seen = _probe(installed_env.python, repo_root / "plugins", tmp_path)

    assert [name for name, _ in seen["plugins"]] == [PLUGIN_NAME]
    assert seen["plugins"][0][1].startswith(f"{DISTRIBUTION}=="), "the shim stays out of the way"
    assert seen["import_errors"] == {}, "a duplicate registration is recorded as an import error"
    assert seen["stray_modules"] == []
    assert seen["providers"].count(DISTRIBUTION) == 1


def test_airflow_cli_with_example_dags_on_logs_no_error_about_the_provider(
    installed_env: Environment, tmp_path: Path
) -> None:
    """Airflow imports every provider's distribution name, dashes as underscores, for example DAGs."""
    empty_plugins = tmp_path / "plugins"
    empty_plugins.mkdir()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "True",  # Airflow's default
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(empty_plugins),
        "AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
    }
    airflow = [str(installed_env.python), "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    reserialize = subprocess.run([*airflow, "dags", "reserialize"], env=env, capture_output=True, text=True)

    assert reserialize.returncode == 0, reserialize.stderr
    errors = [line for line in (reserialize.stdout + reserialize.stderr).splitlines() if "[error" in line]
    assert errors == []


def test_airflow_cli_lists_provider_and_plugin_once_in_the_dev_environment(repo_root: Path) -> None:
    airflow = [sys.executable, "-m", "airflow"]
    providers = subprocess.run([*airflow, "providers", "list", "-o", "json"], check=True, capture_output=True)
    provider = subprocess.run(
        [*airflow, "providers", "get", DISTRIBUTION, "-o", "json"], check=True, capture_output=True
    )
    plugins = subprocess.run([*airflow, "plugins", "-o", "json"], check=True, capture_output=True)

    assert [p["package_name"] for p in json.loads(providers.stdout)].count(DISTRIBUTION) == 1
    assert json.loads(provider.stdout) == [{"Provider": DISTRIBUTION, "Version": version(DISTRIBUTION)}]
    assert [p["name"] for p in json.loads(plugins.stdout)].count(PLUGIN_NAME) == 1


@pytest.mark.parametrize("syntax", ["glob", "regexp"])
def test_airflowignore_keeps_the_package_out_of_plugin_discovery(repo_root: Path, syntax: str) -> None:
    plugins = repo_root / "plugins"
    discovered = {
        Path(f).relative_to(plugins).as_posix()
        for f in find_path_from_directory(plugins, ".airflowignore", syntax)
    }
    without_ignore_file = {
        Path(f).relative_to(plugins).as_posix()
        for f in find_path_from_directory(plugins, ".no-such-ignore-file")
    }

    assert "lambdapipe/plugin.py" in without_ignore_file, "Airflow would import the package's modules"
    # The only module Airflow imports as a plugin: not the provider's, the local stack's (whose
    # __main__ would start a server) or the demo's.
    assert sorted(f for f in discovered if f.endswith(".py")) == ["lambdapipe_plugin.py"]


def test_reading_the_plugins_folders_airflowignore_warns_of_nothing(repo_root: Path) -> None:
    """Every task reads it: a deprecation warning there was logged by every task of the demo."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(find_path_from_directory(repo_root / "plugins", ".airflowignore", "glob"))

    assert [str(warning.message) for warning in caught] == []


def test_provider_info_passes_airflows_schema() -> None:
    info = get_provider_info()

    _create_provider_info_schema_validator().validate(info)
    assert info["package-name"] == DISTRIBUTION
    assert info["versions"] == [lambdapipe.__version__] == [version(DISTRIBUTION)]


def test_provider_info_uses_only_keys_airflow_knows(repo_root: Path) -> None:
    airflow_dir = Path(_create_provider_info_schema_validator.__code__.co_filename).parent
    known: set[str] = set()
    for schema in ("provider_info.schema.json", "provider.yaml.schema.json"):
        known |= set(json.loads((airflow_dir / schema).read_text())["properties"])

    assert set(get_provider_info()) - known == set()


def test_the_wheel_holds_the_provider_package_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        top_level = {name.split("/")[0] for name in archive.namelist()}

    packages = {name for name in top_level if not name.endswith(".dist-info")}
    # airflow_provider_lambdapipe: the name Airflow imports for example DAG discovery, nothing more
    assert packages == {"lambdapipe", "airflow_provider_lambdapipe"}
    assert not any(name.startswith("lambdapipe/pipelines/") for name in archive.namelist())


def test_airflow_config_lists_every_lambdapipe_setting(tmp_path: Path) -> None:
    declared = get_provider_info()["config"]["lambdapipe"]["options"]
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "config", "list", "--section", "lambdapipe"],
        env={**os.environ, "AIRFLOW_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    shown = {line.lstrip("# ").split(" =")[0] for line in listed.splitlines() if " =" in line}
    assert set(declared) <= shown


def test_the_provider_wheel_brings_the_local_stack_only_with_its_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        requirements = [
            line for line in archive.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")
        ]

    local_stack = [line for line in requirements if "lambdapipe-local" in line]
    assert local_stack == ["Requires-Dist: lambdapipe-local==0.1.0; extra == 'local'"]
    assert not any(line.startswith("Requires-Dist: moto") for line in requirements)


def test_the_local_stack_wheel_holds_the_emulator_and_registers_lambdapipe_local(
    local_stack_wheel: Path, repo_root: Path
) -> None:
    with zipfile.ZipFile(local_stack_wheel) as archive:
        names = archive.namelist()
        [entry_points] = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        registered = archive.read(entry_points).decode()

    assert {name.split("/")[0] for name in names if ".dist-info" not in name} == {"lambdapipe_local"}
    in_checkout = {
        path.relative_to(repo_root / "plugins").as_posix()
        for path in (repo_root / "plugins" / "lambdapipe_local").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert in_checkout == {name for name in names if ".dist-info" not in name}
    assert "[lambdapipe.cli]\nlocal = lambdapipe_local.server:main" in registered


def test_the_local_stack_runs_without_airflow_or_the_provider(tmp_path: Path) -> None:
    """The emulator is a distribution of its own: it serves Lambda with both made unimportable."""
    script = """
import sys
sys.modules["airflow"] = None  # any import of them now raises ImportError
sys.modules["lambdapipe"] = None
import boto3
from lambdapipe_local import LocalAws

with LocalAws() as aws:
    client = boto3.client("lambda", endpoint_url=aws.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    print(len(client.list_functions()["Functions"]))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"
