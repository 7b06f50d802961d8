"""Helpers shared by the deploy tests: function folders to change, and which calls count as writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import unquote

from lambdapipe.hooks.iam import INLINE_POLICY_NAME
from lambdapipe_local import LocalAws
from tests.support.shipped_functions import FUNCTIONS_DIR


def copy_function(shipped: str, destination: Path) -> Path:
    """Copy ``lambda_functions/<shipped>`` to ``destination``; the folder name becomes the function name."""
    return Path(shutil.copytree(FUNCTIONS_DIR / shipped, destination))


def replace_in_file(path: Path, old: str, new: str) -> None:
    """Edit a file in place; fails if ``old`` is not there, so a test never edits nothing."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not found in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def with_permissions(tmp_path: Path, name: str, permissions: str) -> Path:
    """hello_world copied as ``name``, with ``[[permissions]]`` tables appended to its manifest."""
    folder = copy_function("hello_world", tmp_path / name)
    with (folder / "function.toml").open("a", encoding="utf-8") as manifest:
        manifest.write(permissions)
    return folder


def role_name(aws: LocalAws, function_name: str) -> str:
    """The name of the execution role the deployed function runs as."""
    return (
        aws.client("lambda")
        .get_function(FunctionName=function_name)["Configuration"]["Role"]
        .rsplit("/", 1)[-1]
    )


def inline_policy(aws: LocalAws, function_name: str) -> dict:
    """The inline policy of the execution role the deployed function runs as."""
    document = aws.client("iam").get_role_policy(
        RoleName=role_name(aws, function_name), PolicyName=INLINE_POLICY_NAME
    )["PolicyDocument"]
    return json.loads(unquote(document)) if isinstance(document, str) else document
