"""Bad function folders: each refused with an error that names the file and what is wrong, and one
bad folder never breaks the deploy DAG for the others."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lambdapipe.packaging import ManifestError, PackagingError, build_package, load_manifest
from lambdapipe.packaging.errors import UnsafePathError
from tests.support.function_folders import MINIMAL_MANIFEST, FunctionFactory

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("manifest", "says"),
    [
        (MINIMAL_MANIFEST.encode() + b'description = "caf\xe9"\n', "not UTF-8 text (byte 65)"),
        (MINIMAL_MANIFEST + "memory = \n", "invalid TOML"),
        (
            MINIMAL_MANIFEST + "[environment]\nX = '1'\n",
            "environment.X: name must be a letter then at least one more",
        ),
        (MINIMAL_MANIFEST + "[environment]\n9LIVES = '1'\n", "environment.9LIVES: name must be a letter"),
        (MINIMAL_MANIFEST + "[environment]\nAWS_REGION = 'x'\n", "environment.AWS_REGION"),
        (MINIMAL_MANIFEST + 'name = "has space"\n', "name: must be 1-64 letters"),
    ],
    ids=[
        "not UTF-8",
        "invalid TOML",
        "one-letter variable",
        "variable starting with a digit",
        "reserved variable",
        "bad name",
    ],
)
def test_a_bad_manifest_is_refused_naming_the_file_and_field(
    make_function: FunctionFactory, manifest: str | bytes, says: str
) -> None:
    folder = make_function(manifest=manifest)

    with pytest.raises(ManifestError) as refused:
        load_manifest(folder)

    assert str(refused.value).startswith(str(folder / "function.toml"))
    assert says in str(refused.value)


def test_a_loop_of_file_symlinks_is_refused_naming_the_link(
    make_function: FunctionFactory, tmp_path: Path
) -> None:
    folder = make_function()
    (folder / "a.py").symlink_to("b.py")
    (folder / "b.py").symlink_to("a.py")

    with pytest.raises(UnsafePathError, match=r"a\.py: symlink loop \(b\.py\)"):
        build_package(folder, cache_dir=tmp_path / "cache")


def test_a_symlink_to_itself_is_refused(make_function: FunctionFactory, tmp_path: Path) -> None:
    folder = make_function()
    (folder / "self.py").symlink_to("self.py")

    with pytest.raises(UnsafePathError, match=r"self\.py: symlink loop"):
        build_package(folder, cache_dir=tmp_path / "cache")


def test_a_hard_link_to_a_file_outside_the_folder_is_refused(
    make_function: FunctionFactory, tmp_path: Path
) -> None:
    credentials = tmp_path / "home" / ".aws" / "credentials"
    credentials.parent.mkdir(parents=True)
    credentials.write_text("aws_secret_access_key = not-for-a-package\n")
    folder = make_function()
    os.link(credentials, folder / "config.ini")

    with pytest.raises(
        UnsafePathError, match=r"config\.ini: a hard link to a file with 2 names, not all inside"
    ):
        build_package(folder, cache_dir=tmp_path / "cache")


def test_hard_links_between_files_of_the_folder_are_packaged(
    make_function: FunctionFactory, tmp_path: Path
) -> None:
    folder = make_function(files={"data/table.csv": "a,b\n"})
    os.link(folder / "data" / "table.csv", folder / "data" / "copy.csv")

    result = build_package(folder, cache_dir=tmp_path / "cache")

    assert result.file_count == 3  # app.py and both names of the table; function.toml stays out


def test_a_broken_symlink_that_would_leave_the_folder_is_named_broken(
    make_function: FunctionFactory, tmp_path: Path
) -> None:
    folder = make_function()
    (folder / "gone.py").symlink_to("../../nowhere.py")

    with pytest.raises(PackagingError, match=r"gone\.py: broken symlink to \.\./\.\./nowhere\.py"):
        build_package(folder, cache_dir=tmp_path / "cache")


def test_a_folder_name_no_task_id_can_hold_leaves_the_deploy_dag_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    for name in ("good_fn", "has space", "ünïcode", "a" * 200):
        (tmp_path / name).mkdir()
        (tmp_path / name / "function.toml").write_text(MINIMAL_MANIFEST)
    monkeypatch.setenv("LAMBDAPIPE_FUNCTIONS_DIR", str(tmp_path))

    bag = DagBag(dag_folder=REPO / "dags" / "deploy_lambda_functions.py")

    assert bag.import_errors == {}
    task_ids = sorted(bag.dags["deploy_lambda_functions"].task_ids)
    assert "deploy_good_fn" in task_ids and len(task_ids) == 4
    assert all(task_id.startswith("deploy_") and len(task_id) < 60 for task_id in task_ids)
