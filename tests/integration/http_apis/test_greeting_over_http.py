"""HTTP into Lambda on the local stack: ``greeting_api`` deployed as its function.toml's ``[http]`` asks,
then called over HTTP through an HTTP API (payload 2.0), a REST API (payload 1.0) and a function URL
(payload 2.0), each answered by the real Node.js handler."""

from __future__ import annotations

import http.client
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from lambdapipe.deploy.deployer import DeployError, DeployResult
from lambdapipe_local import LocalAws
from tests.support.aws_calls import write_calls
from tests.support.deploy_folders import copy_function, replace_in_file
from tests.support.shipped_functions import FUNCTIONS_DIR

GREETING_API = FUNCTIONS_DIR / "greeting_api"
KINDS = ("http-api", "rest-api", "function-url")
Deploy = Callable[..., DeployResult]


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def call(
    url: str, method: str = "GET", route: str = "/greeting", body: bytes | None = None, **headers: str
) -> Answer:
    """One request to ``url`` + ``route`` (a function URL serves every path: the route is ignored there)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    host = headers.pop("host", None)
    sent = {key.replace("_", "-"): value for key, value in headers.items()} | ({"Host": host} if host else {})
    try:
        connection.request(method, parts.path + route, body=body, headers=sent)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


def with_query(route: str, query: str) -> str:
    return f"{route}?{query}"


@pytest.fixture
def endpoints(aws: LocalAws, deploy: Deploy) -> dict[str, str]:
    """greeting_api deployed on a clean stack: kind -> base URL."""
    result = deploy(GREETING_API, smoke_test=False)
    assert sorted(result.endpoints) == sorted(KINDS)
    return result.endpoints


@pytest.mark.parametrize("kind", KINDS)
def test_a_query_string_and_a_header_reach_the_function(kind: str, endpoints: dict[str, str]) -> None:
    answer = call(endpoints[kind], route=with_query("/greeting", "name=Ada&unused=1"), Accept_Language="fr")

    assert (answer.status, answer.json()) == (200, {"message": "Bonjour, Ada!"})
    assert answer.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("kind", KINDS)
def test_a_json_body_reaches_the_function(kind: str, endpoints: dict[str, str]) -> None:
    body = json.dumps({"name": "Zoë"}).encode()

    answer = call(endpoints[kind], "POST", body=body, Content_Type="application/json")

    assert (answer.status, answer.json()) == (200, {"message": "Hello, Zoë!"})


@pytest.mark.parametrize("kind", KINDS)
def test_a_binary_body_goes_through_to_the_function_and_back_unchanged(
    kind: str, endpoints: dict[str, str]
) -> None:
    """Every byte value, so a text decoding anywhere on the way would show (the REST API passes the
    types in binary_media_types base64-encoded; the others all but text types)."""
    body = bytes(range(256)) * 4

    answer = call(endpoints[kind], "POST", body=body, Content_Type="application/octet-stream")

    assert (answer.status, answer.headers["Content-Type"], answer.body) == (
        200,
        "application/octet-stream",
        body,
    )


@pytest.mark.parametrize("kind", KINDS)
def test_the_functions_error_statuses_come_back_as_it_set_them(kind: str, endpoints: dict[str, str]) -> None:
    too_long = call(endpoints[kind], route=with_query("/greeting", "name=" + "x" * 65))
    not_json = call(endpoints[kind], "POST", body=b"{name", Content_Type="application/json")

    assert (too_long.status, too_long.json()) == (400, {"message": "name must be at most 64 characters"})
    assert (not_json.status, not_json.json()) == (
        400,
        {"message": 'the body must be JSON like {"name": "Ada"}'},
    )


def test_the_host_names_aws_uses_and_localstacks_paths_reach_the_same_endpoints(
    aws: LocalAws, endpoints: dict[str, str]
) -> None:
    """``<api-id>.execute-api.localhost`` and ``<url-id>.lambda-url.<region>.localhost``, as curl and
    browsers resolve them (to loopback), sent here to the stack's address with that Host; and
    LocalStack's ``/restapis/<id>/<stage>/_user_request_/<path>``, which tools still use."""
    http_api_id = endpoints["http-api"].rsplit("/", 1)[-1]
    rest_api_id = endpoints["rest-api"].rsplit("/", 2)[-2]
    url_id = endpoints["function-url"].rsplit("/", 1)[-1]
    stack = aws.endpoint_url

    by_host = [
        call(stack, route="/greeting?name=Ada", host=f"{http_api_id}.execute-api.localhost:{aws.port}"),
        call(stack, route="/live/greeting?name=Ada", host=f"{rest_api_id}.execute-api.localhost:{aws.port}"),
        call(stack, route="/?name=Ada", host=f"{url_id}.lambda-url.us-east-1.localhost:{aws.port}"),
        call(stack, route=f"/restapis/{rest_api_id}/live/_user_request_/greeting?name=Ada"),
    ]

    assert [(answer.status, answer.json()) for answer in by_host] == [(200, {"message": "Hello, Ada!"})] * 4


def test_requests_no_route_answers_get_api_gateways_answers(aws: LocalAws, endpoints: dict[str, str]) -> None:
    rest_api_base = endpoints["rest-api"].rsplit("/", 1)[0]

    misses = [
        call(endpoints["http-api"], route="/nowhere"),
        call(endpoints["http-api"], "DELETE"),
        call(endpoints["rest-api"], route="/nowhere"),
        call(rest_api_base, route="/no-such-stage/greeting"),
        call(aws.endpoint_url, route="/_aws/execute-api/nosuchapi/greeting"),
        call(aws.endpoint_url, route="/_aws/lambda-url/0123456789abcdef/"),
    ]

    assert [(answer.status, answer.json()) for answer in misses] == [
        (404, {"message": "Not Found"}),
        (404, {"message": "Not Found"}),
        (403, {"message": "Missing Authentication Token"}),
        (403, {"message": "Forbidden"}),
        (404, {"message": "Not Found"}),
        (404, {"message": "Not Found"}),
    ]


def test_a_function_that_throws_is_each_services_5xx(aws: LocalAws, deploy: Deploy, tmp_path: Path) -> None:
    folder = copy_function("greeting_api", tmp_path / "greeting_fails")
    replace_in_file(
        folder / "index.js",
        "exports.handler = async (event) => {",
        "exports.handler = async () => {\n  throw new Error('boom');",
    )
    endpoints = deploy(folder, smoke_test=False).endpoints

    answers = {kind: call(endpoints[kind]) for kind in KINDS}

    assert {kind: (answer.status, answer.json()) for kind, answer in answers.items()} == {
        "http-api": (500, {"message": "Internal Server Error"}),
        "rest-api": (502, {"message": "Internal server error"}),
        "function-url": (502, {"message": "Internal Server Error"}),
    }


def test_a_redeploy_with_nothing_changed_makes_no_write_call(aws: LocalAws, deploy: Deploy) -> None:
    first = deploy(GREETING_API, smoke_test=False)
    created = write_calls(aws.calls.snapshot())
    aws.calls.reset()

    again = deploy(GREETING_API, smoke_test=False)

    assert write_calls(aws.calls.snapshot()) == {}
    assert (again.changed, again.endpoints) == (False, first.endpoints)
    # The counter sees each API's writes (so it would see them on the rerun too).
    assert {"apigatewayv2:CreateRoute", "apigateway:PutIntegration", "lambda:CreateFunctionUrlConfig"} <= set(
        created
    )


def test_a_route_taken_out_of_the_manifest_stops_answering(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    folder = copy_function("greeting_api", tmp_path / "greeting_get_only")
    deploy(folder, smoke_test=False)
    replace_in_file(folder / "function.toml", '"GET /greeting", "POST /greeting"', '"GET /greeting"')

    endpoints = deploy(folder, smoke_test=False).endpoints
    posts = [call(endpoints[kind], "POST", body=b"{}", Content_Type="application/json") for kind in KINDS[:2]]

    assert [answer.status for answer in posts] == [404, 403]
    assert call(endpoints["http-api"]).status == call(endpoints["rest-api"]).status == 200


def test_a_web_page_cannot_call_the_local_api(endpoints: dict[str, str]) -> None:
    """The browser guard covers these URLs too: a page open in the developer's browser gets a 403."""
    answer = call(endpoints["http-api"], Origin="https://attacker.example")

    assert answer.status == 403
    assert "requests from web pages" in answer.json()["error"]


def test_endpoints_that_need_authorization_are_refused_not_served_anonymously(
    aws: LocalAws, endpoints: dict[str, str]
) -> None:
    """The local stack checks no IAM signature, JWT or API key on these calls: it refuses them."""
    http_api_id = endpoints["http-api"].rsplit("/", 1)[-1]
    v2 = aws.client("apigatewayv2")
    [integration] = v2.get_integrations(ApiId=http_api_id)["Items"]
    v2.create_route(
        ApiId=http_api_id,
        RouteKey="GET /secret",
        AuthorizationType="AWS_IAM",
        Target=f"integrations/{integration['IntegrationId']}",
    )
    aws.client("lambda").update_function_url_config(
        FunctionName="greeting_api", Qualifier="live", AuthType="AWS_IAM"
    )

    answers = [call(endpoints["http-api"], route="/secret"), call(endpoints["function-url"])]

    assert [(answer.status, answer.json()) for answer in answers] == [(403, {"message": "Forbidden"})] * 2


def test_a_deploy_takes_down_the_endpoints_its_manifest_no_longer_lists(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    folder = copy_function("greeting_api", tmp_path / "greeting_shrinks")
    before = deploy(folder, smoke_test=False).endpoints
    replace_in_file(folder / "function.toml", '"http-api", "rest-api", "function-url"', '"http-api"')

    after = deploy(folder, smoke_test=False)
    gone = [call(before["rest-api"]), call(before["function-url"])]
    text = (folder / "function.toml").read_text()
    (folder / "function.toml").write_text(text[: text.index("[http]")])
    without_http = deploy(folder, smoke_test=False)

    assert list(after.endpoints) == ["http-api"] and after.changed
    assert [answer.status for answer in gone] == [404, 404]  # no such API, no such URL
    assert (without_http.endpoints, call(before["http-api"]).status) == ({}, 404)
    assert aws.client("apigatewayv2").get_apis()["Items"] == []
    assert aws.client("apigateway").get_rest_apis()["items"] == []
    lambda_client = aws.client("lambda")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.get_policy(FunctionName="greeting_shrinks", Qualifier="live")


def test_an_api_recreated_under_a_new_id_gets_its_permission_rewritten(aws: LocalAws, deploy: Deploy) -> None:
    """On AWS a statement naming the old API's ARN would leave the new API unable to invoke the alias."""
    first = deploy(GREETING_API, smoke_test=False).endpoints["http-api"].rsplit("/", 1)[-1]
    aws.client("apigatewayv2").delete_api(ApiId=first)

    second = deploy(GREETING_API, smoke_test=False).endpoints["http-api"].rsplit("/", 1)[-1]
    policy = json.loads(
        aws.client("lambda").get_policy(FunctionName="greeting_api", Qualifier="live")["Policy"]
    )
    [statement] = [
        statement for statement in policy["Statement"] if statement["Sid"] == "lambdapipe-http-api"
    ]

    assert second != first
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(f":{second}/*")


def test_an_api_of_the_same_name_lambdapipe_did_not_create_is_left_alone(
    aws: LocalAws, deploy: Deploy
) -> None:
    theirs = aws.client("apigatewayv2").create_api(Name="greeting_api", ProtocolType="HTTP")

    with pytest.raises(
        DeployError, match=f"HTTP API {theirs['ApiId']} is named 'greeting_api' but has no tag"
    ):
        deploy(GREETING_API, smoke_test=False)

    assert aws.client("apigatewayv2").get_routes(ApiId=theirs["ApiId"])["Items"] == []


def test_a_rest_resource_no_route_needs_any_more_is_deleted(
    aws: LocalAws, deploy: Deploy, tmp_path: Path
) -> None:
    """Left behind empty, ``/greeting/{name}`` would still take requests a later ``/{proxy+}`` should."""
    folder = copy_function("greeting_api", tmp_path / "greeting_paths")
    replace_in_file(folder / "function.toml", '"GET /greeting", "POST /greeting"', '"GET /greeting/{name}"')
    api_id = deploy(folder, smoke_test=False).endpoints["rest-api"].rsplit("/", 2)[-2]
    replace_in_file(folder / "function.toml", '"GET /greeting/{name}"', '"GET /hello"')

    deploy(folder, smoke_test=False)

    paths = sorted(item["path"] for item in aws.client("apigateway").get_resources(restApiId=api_id)["items"])
    assert paths == ["/", "/hello"]


def test_a_chunked_request_body_reaches_the_function_whole(endpoints: dict[str, str]) -> None:
    parts = urlsplit(endpoints["http-api"])
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(
            "POST",
            parts.path + "/greeting",
            body=iter([b'{"na', b'me": "Chunk"}']),
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        response = connection.getresponse()
        answer = (response.status, json.loads(response.read()))
    finally:
        connection.close()

    assert answer == (200, {"message": "Hello, Chunk!"})


@pytest.mark.parametrize("kind", KINDS)
def test_each_endpoint_invokes_the_alias_not_code_put_on_latest_since(
    aws: LocalAws, deploy: Deploy, tmp_path: Path, kind: str
) -> None:
    """The deploy points every endpoint at its alias: $LATEST changed afterwards is not served."""
    folder = copy_function("greeting_api", tmp_path / "greeting_aliased")
    endpoints = deploy(folder, smoke_test=False).endpoints
    replace_in_file(folder / "index.js", 'en: "Hello"', 'en: "Howdy"')
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as code:
        code.write(folder / "index.js", "index.js")
    lambda_client = aws.client("lambda")
    lambda_client.update_function_code(FunctionName="greeting_aliased", ZipFile=archive.getvalue())
    lambda_client.get_waiter("function_updated_v2").wait(FunctionName="greeting_aliased")

    answer = call(endpoints[kind], route=with_query("/greeting", "name=Ada"))

    assert (answer.status, answer.json()) == (200, {"message": "Hello, Ada!"})
