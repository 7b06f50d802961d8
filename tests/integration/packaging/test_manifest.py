"""function.toml: defaults, and errors that name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdapipe.packaging import EventInvokeConfig, ManifestError, Permission, load_manifest
from tests.support.function_folders import MINIMAL_MANIFEST, FunctionFactory

PERMISSION = '[[permissions]]\nactions = ["s3:GetObject"]\nresources = ["arn:aws:s3:::b/*"]\n'


def test_minimal_manifest_gets_documented_defaults(make_function: FunctionFactory) -> None:
    manifest = load_manifest(make_function("thumbnails"))

    assert manifest.name == "thumbnails"
    assert (manifest.architecture, manifest.memory, manifest.timeout, manifest.alias) == (
        "x86_64",
        128,
        3,
        "live",
    )
    assert manifest.environment == {}
    assert manifest.permissions == ()
    assert manifest.event_invoke is None
    assert manifest.python_version == "3.11"


def test_an_http_table_is_parsed_and_a_function_url_needs_no_route(make_function: FunctionFactory) -> None:
    routes = load_manifest(
        make_function(
            manifest=MINIMAL_MANIFEST + '[http]\nroutes = ["GET /items/{id}", "ANY /files/{path+}"]\n'
        )
    ).http
    url_only = load_manifest(
        make_function("url_only", manifest=MINIMAL_MANIFEST + '[http]\napis = ["function-url"]\n')
    )

    assert routes is not None and routes.route_pairs == (("GET", "/items/{id}"), ("ANY", "/files/{path+}"))
    assert (routes.apis, routes.stage, routes.binary_media_types) == (("http-api",), "live", ())
    assert url_only.http is not None and url_only.http.routes == ()


def test_full_manifest_is_parsed_into_typed_values(make_function: FunctionFactory) -> None:
    folder = make_function(
        manifest=MINIMAL_MANIFEST
        + 'name = "resize"\narchitecture = "arm64"\nmemory = 512\ntimeout = 30\nalias = "prod"\n'
        + 'excludes = ["docs/"]\n[environment]\nMAX_SIDE = "256"\n'
        + PERMISSION
        + '[event_invoke]\nmaximum_retry_attempts = 0\nmaximum_event_age_seconds = 60\non_failure = "failures"\n'
    )

    manifest = load_manifest(folder)

    assert (manifest.name, manifest.architecture, manifest.memory, manifest.timeout) == (
        "resize",
        "arm64",
        512,
        30,
    )
    assert manifest.environment == {"MAX_SIDE": "256"}
    assert manifest.excludes == ("docs/",)
    assert manifest.permissions == (Permission(actions=("s3:GetObject",), resources=("arn:aws:s3:::b/*",)),)
    assert manifest.event_invoke == EventInvokeConfig(0, 60, None, "failures")


INVALID = [
    ('runtime = "python2.7"\nhandler = "app.handler"\n', "runtime", "python3.9 or later"),
    ('runtime = "nodejs16.x"\nhandler = "index.handler"\n', "runtime", "nodejs18.x or later"),
    ('handler = "app.handler"\n', "runtime", "is required"),
    ('runtime = "python3.11"\nhandler = "app"\n', "handler", "module.function"),
    ('runtime = "python3.11"\nhandler = "../app.handler"\n', "handler", "inside the function folder"),
    (MINIMAL_MANIFEST + 'architecture = "x86"\n', "architecture", "x86_64"),
    (MINIMAL_MANIFEST + "memory = 64\n", "memory", "between 128 and 10240"),
    (MINIMAL_MANIFEST + 'memory = "512"\n', "memory", "must be an integer"),
    (MINIMAL_MANIFEST + "memory = true\n", "memory", "must be an integer"),
    (MINIMAL_MANIFEST + "timeout = 901\n", "timeout", "between 1 and 900"),
    (MINIMAL_MANIFEST + "[environment]\nMAX_SIDE = 256\n", "environment.MAX_SIDE", "must be a string"),
    (MINIMAL_MANIFEST + '[environment]\nAWS_REGION = "eu-west-1"\n', "environment.AWS_REGION", "reserved"),
    (MINIMAL_MANIFEST + '[environment]\n"1BAD" = "x"\n', "environment.1BAD", "name must be"),
    (MINIMAL_MANIFEST + f'description = "{"x" * 257}"\n', "description", "at most 256"),
    (MINIMAL_MANIFEST + 'alias = "123"\n', "alias", "not only digits"),
    (MINIMAL_MANIFEST + "memroy = 256\n", "memroy", "unknown field"),
    (MINIMAL_MANIFEST + 'excludes = ["../secrets"]\n', "excludes[0]", "'..'"),
    (
        MINIMAL_MANIFEST + '[[permissions]]\nactions = ["*"]\nresources = ["*"]\n',
        "permissions[0].actions[0]",
        "wildcard action '*'",
    ),
    (
        MINIMAL_MANIFEST + PERMISSION + '[[permissions]]\nactions = ["s3:*"]\nresources = ["*"]\n',
        "permissions[1].actions[0]",
        "allow_wildcard = true",
    ),
    (
        MINIMAL_MANIFEST + '[[permissions]]\nactions = ["s3:GetObject"]\n',
        "permissions[0]",
        "resources",
    ),
    (
        MINIMAL_MANIFEST + '[[permissions]]\nactions = ["GetObject"]\nresources = ["*"]\n',
        "permissions[0].actions[0]",
        "service:Action",
    ),
    (
        MINIMAL_MANIFEST + '[[permissions]]\nactions = ["s3:GetObject"]\nresources = ["my-bucket/*"]\n',
        "permissions[0].resources[0]",
        "ARN",
    ),
    (
        MINIMAL_MANIFEST + PERMISSION + 'effect = "Maybe"\n',
        "permissions[0].effect",
        '"Allow" or "Deny"',
    ),
    (
        MINIMAL_MANIFEST + PERMISSION + "colour = 1\n",
        "permissions[0].colour",
        "unknown field",
    ),
    (
        MINIMAL_MANIFEST + "[event_invoke]\nmaximum_retry_attempts = 3\n",
        "event_invoke.maximum_retry_attempts",
        "0 and 2",
    ),
    (
        MINIMAL_MANIFEST + "[event_invoke]\nmaximum_event_age_seconds = 30\n",
        "event_invoke.maximum_event_age_seconds",
        "60 and 21600",
    ),
    (
        MINIMAL_MANIFEST + '[event_invoke]\non_success = "arn:aws:s3:::bucket"\n',
        "event_invoke.on_success",
        "only be an on_failure",
    ),
    (
        MINIMAL_MANIFEST + '[event_invoke]\non_failure = "not a queue!"\n',
        "event_invoke.on_failure",
        "SQS queue name",
    ),
    (MINIMAL_MANIFEST + '[http]\nroutes = ["FETCH /x"]\n', "http.routes[0]", '"METHOD /path"'),
    (MINIMAL_MANIFEST + '[http]\nroutes = ["GET x"]\n', "http.routes[0]", '"METHOD /path"'),
    (MINIMAL_MANIFEST + '[http]\nroutes = ["GET /{a+}/b"]\n', "http.routes[0]", "last path segment"),
    (MINIMAL_MANIFEST + '[http]\nroutes = ["GET /a b"]\n', "http.routes[0]", "path segment 'a b'"),
    (MINIMAL_MANIFEST + '[http]\nroutes = ["GET /a", "GET /a"]\n', "http.routes", "twice"),
    (MINIMAL_MANIFEST + "[http]\nroutes = []\n", "http.routes", "at least one route"),
    (MINIMAL_MANIFEST + '[http]\nroutes = ["GET /a/"]\n', "http.routes[0]", "must not end with /"),
    (
        MINIMAL_MANIFEST + '[http]\nroutes = ["GET /items/{id}", "PUT /items/{itemId}"]\n',
        "http.routes",
        "/items has 2 different variable segments",
    ),
    (
        MINIMAL_MANIFEST + '[http]\nroutes = ["GET /f/{p}", "ANY /f/{p+}"]\n',
        "http.routes",
        "one per level",
    ),
    (MINIMAL_MANIFEST + '[http]\nroutes = ["GET /a"]\napis = ["graphql"]\n', "http.apis[0]", "rest-api"),
    (MINIMAL_MANIFEST + '[http]\nroutes = ["GET /a"]\nstage = "a/b"\n', "http.stage", "letters, digits"),
    (
        MINIMAL_MANIFEST + '[http]\nroutes = ["GET /a"]\nbinary_media_types = ["png"]\n',
        "http.binary_media_types[0]",
        "media type",
    ),
]


@pytest.mark.parametrize(
    ("toml", "field", "problem"), INVALID, ids=[case[1] + ":" + case[2] for case in INVALID]
)
def test_invalid_manifest_error_names_file_and_field(
    make_function: FunctionFactory, toml: str, field: str, problem: str
) -> None:
    folder = make_function(manifest=toml)

    with pytest.raises(ManifestError) as raised:
        load_manifest(folder)

    assert raised.value.field == field
    assert problem in raised.value.problem
    assert str(raised.value).startswith(f"{folder / 'function.toml'}: {field}: ")


def test_wildcard_action_is_accepted_when_explicitly_allowed(make_function: FunctionFactory) -> None:
    folder = make_function(
        manifest=MINIMAL_MANIFEST
        + '[[permissions]]\nactions = ["s3:*"]\nresources = ["*"]\nallow_wildcard = true\n'
    )

    assert load_manifest(folder).permissions[0].actions == ("s3:*",)


def test_toml_syntax_error_names_the_file(make_function: FunctionFactory) -> None:
    folder = make_function(manifest='runtime = "python3.11\n')

    with pytest.raises(ManifestError, match=r"function\.toml: invalid TOML") as raised:
        load_manifest(folder)
    assert raised.value.path == folder / "function.toml"


def test_missing_manifest_names_the_expected_path(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"every function folder needs a function\.toml") as raised:
        load_manifest(tmp_path)
    assert raised.value.path == tmp_path / "function.toml"


def test_dataclasses_validate_when_built_in_code() -> None:
    with pytest.raises(ManifestError, match=r"^actions\[0\]: wildcard action"):
        Permission(actions=["dynamodb:*"], resources=["*"])


def test_the_docs_function_toml_example_is_a_valid_manifest(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[3] / "docs" / "operators.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n# lambda_functions/image_resize/function.toml\n", 1)[1].split("```", 1)[
        0
    ]
    (tmp_path / "image_resize").mkdir()
    (tmp_path / "image_resize" / "function.toml").write_text(example)

    manifest = load_manifest(tmp_path / "image_resize")

    assert (manifest.name, manifest.memory, manifest.event_invoke.maximum_retry_attempts) == (
        "image_resize",
        512,
        1,
    )
    assert (manifest.dependencies.install_scripts, manifest.dependencies.package_sources) == (False, False)
