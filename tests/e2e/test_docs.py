"""The README and the docs site say what the code does: their examples run as written.

``make test`` builds the site with ``mkdocs build --strict`` (broken links, pages outside the nav,
docstrings the reference cannot render); these tests run the examples themselves (the pipelines'
`airflow tasks test` recipes: test_uploads_recipes.py and test_orders_recipe.py).
"""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import DAG

import lambdapipe.operators
import lambdapipe.sensors
import lambdapipe.triggers
from lambdapipe.packaging.manifest import manifest_from_table
from lambdapipe.utils.child_processes import spawn
from tests.support.doc_recipes import blocks, new_shell_beside, reader_environment
from tests.support.local_aws_process import free_port, local_aws_process
from tests.support.package_classes import classes_defined_in

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
README = REPO / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")
# A block that builds tasks or assets: run it, not only compile it; one with its own DAG is a DAG file.
BUILDS_SOMETHING = re.compile(r"(Operator|Sensor|Trigger)\(")
FULL_DAG = re.compile(r"@dag\b|\bDAG\(")


def _python_examples() -> list[tuple[str, str]]:
    return [
        (f"{path.relative_to(REPO)}#{number}", code)
        for path in [README, *PAGES]
        for number, code in enumerate(blocks(path, "python"), start=1)
    ]


def test_the_readme_stays_a_five_minute_read() -> None:
    assert len(README.read_text().splitlines()) <= 250


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda path: path.relative_to(REPO).as_posix())
def test_every_relative_link_points_at_a_file(path: Path) -> None:
    targets = [link.split("#")[0] for link in LINK.findall(path.read_text())]
    relative = [target for target in targets if target and not re.match(r"[a-z]+:", target)]

    assert [target for target in relative if not (path.parent / target).exists()] == []


# A repository path a shell recipe names: a script to run, tests to select, a function folder.
RECIPE_PATH = re.compile(r"(?<![\w/.-])((?:tests|benchmarks|include|scripts|lambda_functions|dags)/[\w./-]+)")


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda path: path.relative_to(REPO).as_posix())
def test_every_repository_path_a_shell_recipe_names_exists(path: Path) -> None:
    named = {found for block in blocks(path, "bash") for found in RECIPE_PATH.findall(block)}

    assert sorted(name for name in named if not (REPO / name.rstrip(".")).exists()) == []


def _nav_pages(entries: list) -> set[str]:
    """Every page the nav lists, sections included (an entry is a path, or a title with a path or a list)."""
    pages: set[str] = set()
    for entry in entries:
        for value in entry.values() if isinstance(entry, dict) else [entry]:
            pages |= _nav_pages(value) if isinstance(value, list) else {value}
    return pages


def test_every_page_is_in_the_sites_navigation() -> None:
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]

    assert _nav_pages(nav) == {path.relative_to(DOCS).as_posix() for path in PAGES}


CLASSES = [
    cls
    for cls in classes_defined_in(
        (lambdapipe.operators, lambdapipe.sensors, lambdapipe.triggers), ("Operator", "Sensor", "Trigger")
    )
    if cls.__name__ != "AwsConnectionTrigger"  # a base class for our own triggers, in the API reference
]


def test_the_class_pages_cover_operators_sensors_and_triggers() -> None:
    names = {cls.__name__ for cls in CLASSES}

    assert {"LambdaInvokeOperator", "S3UploadSensor", "DynamoDBStreamTrigger"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_operator_sensor_and_trigger_has_its_own_page_with_an_example_and_its_parameters(
    cls: type,
) -> None:
    folder = cls.__module__.split(".")[1]  # operators, sensors or triggers
    page = DOCS / folder / f"{cls.__name__}.md"
    assert page.exists(), f"{cls.__name__} has no page at {page.relative_to(REPO)}"
    text = page.read_text()

    examples = "".join(blocks(page, "python"))
    # A trigger the operators create is shown by the deferrable task that waits in it (named there).
    shown = cls.__name__ in examples if folder == "triggers" else f"{cls.__name__}(" in examples
    assert shown, "no Python example shows it in use"
    assert f"::: {cls.__module__}.{cls.__name__}" in text, (
        "its parameters are not rendered from the docstring"
    )
    assert f"({folder}/{cls.__name__}.md)" in (DOCS / "operators.md").read_text(), "missing from the overview"


@pytest.mark.parametrize(
    ("where", "code"), _python_examples(), ids=[where for where, _ in _python_examples()]
)
def test_every_python_example_runs_as_written(where: str, code: str, tmp_path: Path) -> None:
    """A whole DAG file is parsed by Airflow's DagBag; a fragment that builds tasks or assets runs
    inside a DAG (constructing each operator checks its arguments); the rest must compile."""
    compile(code, where, "exec")
    if FULL_DAG.search(code):
        (tmp_path / "example.py").write_text(code)
        dagbag = DagBag(dag_folder=tmp_path, safe_mode=False)
        assert dagbag.import_errors == {}
        assert dagbag.dags and all(dag.tasks for dag in dagbag.dags.values()), f"{where} defines no tasks"
    elif BUILDS_SOMETHING.search(code):
        namespace: dict = {}
        with DAG(dag_id=re.sub(r"\W", "_", where), schedule=None) as around:
            exec(compile(code, where, "exec"), namespace)
        assets = [value for value in namespace.values() if type(value).__name__ == "Asset"]
        assert around.tasks or assets, f"{where} builds no task and no asset"


def _toml_examples() -> list[tuple[str, str]]:
    return [
        (f"{path.relative_to(REPO).as_posix()}#{index}", block)
        for path in [README, *PAGES]
        for index, block in enumerate(blocks(path, "toml"))
    ]


@pytest.mark.parametrize(("where", "block"), _toml_examples(), ids=[where for where, _ in _toml_examples()])
def test_every_function_toml_example_is_a_valid_manifest(where: str, block: str) -> None:
    """A page's function.toml (or a table of one, completed with the two required fields) loads."""
    table = tomllib.loads(block)
    manifest = manifest_from_table({"runtime": "python3.11", "handler": "app.handler", **table}, "example")
    assert manifest.name == table.get("name", "example")


@pytest.mark.parametrize("page", [README, DOCS / "operators.md"], ids=lambda path: path.name)
def test_the_deploy_and_invoke_recipe_runs_as_written_in_a_new_shell(page: Path, tmp_path: Path) -> None:
    """From a folder laid out like the repository whose .airflow/env.sh a stack wrote, with none of
    this process's Airflow or AWS settings: only what the recipe sources."""
    [recipe] = [block for block in blocks(page, "bash") if "lambdapipe deploy" in block]
    for name in (".venv", "lambda_functions"):
        (tmp_path / name).symlink_to(REPO / name)

    with local_aws_process(tmp_path / "local-aws") as aws_url:
        result = subprocess.run(["bash", "-e", "-c", recipe], **new_shell_beside(aws_url, tmp_path))

    assert result.returncode == 0, result.stderr
    assert '"function_name": "hello_world"' in result.stdout
    assert "Hello" in result.stdout
    assert any(line.startswith("hello_world: package ") for line in result.stderr.splitlines())  # progress
    assert "[info" not in result.stderr, "quiet by default: no library logs"


@pytest.mark.parametrize("page", [README, DOCS / "http.md"], ids=lambda path: path.name)
def test_the_http_recipe_greets_through_curl_as_written_in_a_new_shell(page: Path, tmp_path: Path) -> None:
    """After greeting_api was deployed (by `lambdapipe deploy`, the deploy path `make run` takes too),
    each curl of the recipe gets the answer its comment gives, in order."""
    [recipe] = [block for block in blocks(page, "bash") if "lambdapipe url" in block]
    answers = re.findall(r"# (\{.*\})$", recipe, re.MULTILINE)
    for name in (".venv", "lambda_functions"):
        (tmp_path / name).symlink_to(REPO / name)

    with local_aws_process(tmp_path / "local-aws") as aws_url:
        shell = new_shell_beside(aws_url, tmp_path)
        deploy = "source .airflow/env.sh && lambdapipe deploy lambda_functions/greeting_api --no-smoke-test"
        deployed = subprocess.run(["bash", "-e", "-c", deploy], **shell)
        assert deployed.returncode == 0, deployed.stderr
        result = subprocess.run(["bash", "-e", "-c", recipe], **shell)

    assert result.returncode == 0, result.stderr
    assert answers and result.stdout == "".join(answers), "each curl prints what the page says"


def test_the_local_aws_recipe_answers_the_aws_cli_in_a_second_terminal(tmp_path: Path) -> None:
    """docs/local-aws.md's two terminals as written, but for the port (4566 is `make run`'s), with the
    default state folder moved out of the real home."""
    [server_recipe] = [
        block for block in blocks(DOCS / "local-aws.md", "bash") if "lambdapipe local --port" in block
    ]
    [client_recipe] = [block for block in blocks(DOCS / "local-aws.md", "bash") if "list-functions" in block]
    port = str(free_port())
    (tmp_path / ".venv").symlink_to(REPO / ".venv")
    env = {**reader_environment(), "LAMBDAPIPE_LOCAL_HOME": str(tmp_path / "state")}
    server = spawn(
        ["bash", "-c", server_recipe.replace("4566", port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "listening on" in server.stdout.readline()
        client = subprocess.run(
            ["bash", "-e", "-c", client_recipe.replace("4566", port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)

    assert client.returncode == 0, client.stderr
    assert json.loads(client.stdout) == {"Functions": []}
    assert (tmp_path / "state" / "aws-state.pickle").is_file(), "saved where the page says by default"


# Every shell block of the README and the docs, by a line it alone has, and the test file that runs
# it as written (ports and homes aside). A block no test can run says why instead, and what checks it.
SHELL_RECIPES_RUN_BY = {
    ("README.md", "make run "): "tests/e2e/test_devstack.py",  # its `make run` line; `make test` is CI's
    ("README.md", "lambdapipe deploy"): "tests/e2e/test_docs.py",
    ("README.md", "lambdapipe url"): "tests/e2e/test_docs.py",
    ("docs/http.md", "lambdapipe url"): "tests/e2e/test_docs.py",
    ("docs/index.md", "make run "): "tests/e2e/test_docs.py",  # the README's commands, checked below
    ("docs/guarantees.md", "benchmarks/chaos.py"): "tests/e2e/platform/test_chaos.py",
    ("docs/lambda-view.md", "/auth/token"): "tests/e2e/ui/test_browser.py",
    ("docs/local-aws.md", "lambdapipe local --port"): "tests/e2e/test_docs.py",
    ("docs/local-aws.md", "list-functions"): "tests/e2e/test_docs.py",
    ("docs/operations.md", "--executor CeleryExecutor"): "tests/e2e/platform/test_celery.py",
    ("docs/operators.md", "lambdapipe deploy"): "tests/e2e/test_docs.py",
    ("docs/pipeline-orders.md", "airflow dags pause order_analytics"): "tests/e2e/test_orders_recipe.py",
    (
        "docs/pipeline-orders.md",
        ".venv/bin/pytest",
    ): "tests/e2e/test_docs.py",  # collects; the suite runs them
    ("docs/pipeline-uploads.md", "include/demo_infrastructure.py"): "tests/e2e/test_uploads_recipes.py",
    (
        "docs/pipeline-uploads.md",
        "airflow dags pause s3_upload_processing",
    ): "tests/e2e/test_uploads_recipes.py",
    # Its pytest selection collects here; its benchmark line runs in test_benchmark_scripts.py.
    ("docs/pipeline-uploads.md", ".venv/bin/pytest"): "tests/e2e/test_docs.py",
    ("docs/tables.md", "lambdapipe tables list"): "tests/integration/tables/test_cli.py",
}
SHELL_RECIPES_NOT_RUN = {
    ("docs/operations.md", "docker compose up"): "needs Docker, which this machine lacks; "
    "tests/unit/project/test_compose*.py check the compose file and the .env generator line",
}


def _shell_blocks() -> list[tuple[str, str]]:
    return [
        (path.relative_to(REPO).as_posix(), block)
        for path in [README, *PAGES]
        for language in ("bash", "sh", "shell", "console")
        for block in blocks(path, language)
    ]


def test_every_shell_recipe_is_run_by_a_named_test_or_says_why_not() -> None:
    """A new recipe fails here until a test runs it; a claimed runner must read that page."""
    known = {**SHELL_RECIPES_RUN_BY, **SHELL_RECIPES_NOT_RUN}
    shell_blocks = _shell_blocks()
    unclaimed = []
    for page, block in shell_blocks:
        claims = [(where, marker) for where, marker in known if where == page and marker in block]
        if len(claims) != 1:
            unclaimed.append(f"{page}: {block.splitlines()[0]} ({len(claims)} claims)")
    assert unclaimed == []
    stale = [
        (page, marker)
        for page, marker in known
        if sum(where == page and marker in block for where, block in shell_blocks) != 1
    ]
    assert stale == [], "each entry names exactly one block"
    for (page, marker), runner in SHELL_RECIPES_RUN_BY.items():
        reads_the_page = runner == "tests/e2e/test_docs.py" or Path(page).name in (REPO / runner).read_text()
        assert reads_the_page, f"{runner} does not read {page} ({marker})"


def test_the_sites_quick_start_gives_the_readmes_commands() -> None:
    def commands(path: Path) -> list[str]:
        return [line.split("#", 1)[0].strip() for line in blocks(path, "bash")[0].splitlines()]

    assert commands(DOCS / "index.md") == commands(README) == ["make run", "make test"]
    assert (REPO / ".ci" / "run").read_text().strip().endswith("make test"), "make test is what CI runs"


PYTEST_RECIPE = re.compile(r"^\.venv/bin/pytest ((?:[^\n\\]|\\\n)+)", re.MULTILINE)
PYTEST_SELECTIONS = [
    (f"{path.relative_to(REPO)}", selection)
    for path in [README, *PAGES]
    for block in blocks(path, "bash")
    for selection in PYTEST_RECIPE.findall(block)
]


@pytest.mark.parametrize(
    ("where", "selection"), PYTEST_SELECTIONS, ids=[where for where, _ in PYTEST_SELECTIONS]
)
def test_every_pytest_selection_a_page_gives_collects_its_tests(where: str, selection: str) -> None:
    """The suite runs those tests anyway: here the page's selection must name tests that exist."""
    args = shlex.split(selection.split("#", 1)[0].replace("\\\n", " "))

    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^\d+ tests? collected", result.stdout, re.MULTILINE), result.stdout[-2000:]
