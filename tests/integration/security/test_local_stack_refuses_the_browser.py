"""The local AWS stack refuses web pages (finding 1 of the security issue), while SDKs and the CLI work.

Each request here is what a page open in the developer's browser can make the browser send to a
loopback port: a CORS preflight, a cross-origin call, a "simple" form POST to the admin API, a DNS
rebinding request whose Host is the attacker's name. The stack runs as ``lambdapipe local``, as under
``make run``; the last test drives a real headless Chromium.
"""

from __future__ import annotations

import http.client
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest

from lambdapipe.utils.child_processes import spawn
from lambdapipe_local import LocalAws
from lambdapipe_local.admin.admin_client import LocalAwsAdmin
from lambdapipe_local.front.browser_guard import browser_refusal
from lambdapipe_local.lambda_runtime.runtime_api import API_PREFIX, RuntimeApiServer

VENV_BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
EVIL_ORIGIN = "http://evil.example"
TABLE = "secrets"
CREDENTIALS = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
SCAN = {  # as an SDK sends it; the stack checks no signature, so anyone can write this one
    "X-Amz-Target": "DynamoDB_20120810.Scan",
    "Content-Type": "application/x-amz-json-1.0",
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory) -> Iterator[str]:
    """A ``lambdapipe local`` server that also accepts the Host name ``local-aws`` (as in compose)."""
    state_dir = tmp_path_factory.mktemp("state")
    argv = [str(VENV_BIN / "lambdapipe"), "local", "--ephemeral", "--port", "0", "--allow-host", "local-aws"]
    process = spawn(
        [*argv, "--state-dir", str(state_dir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
    assert url.startswith("http://127.0.0.1:"), url
    dynamodb = boto3.client("dynamodb", endpoint_url=url, **CREDENTIALS)
    dynamodb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=TABLE, Item={"id": {"S": "the-secret"}})
    yield url
    process.terminate()  # the tether ends the server and waits for it
    process.wait(timeout=30)
    process.stdout.close()


def _request(
    endpoint: str, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Send exactly these headers (http.client adds Host and Content-Length only)."""
    address = urlparse(endpoint)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_a_cors_preflight_from_a_page_is_refused_and_answers_no_cors_header(endpoint: str) -> None:
    status, headers, _ = _request(
        endpoint,
        "OPTIONS",
        "/",
        headers={"Origin": EVIL_ORIGIN, "Access-Control-Request-Method": "POST"},
    )

    assert status == 403
    assert not [name for name in headers if name.startswith("access-control-")]


def test_a_cross_origin_dynamodb_scan_is_refused_and_reveals_no_item(endpoint: str) -> None:
    status, _, body = _request(
        endpoint, "POST", "/", b'{"TableName": "secrets"}', {**SCAN, "Origin": EVIL_ORIGIN}
    )

    assert status == 403
    assert b"the-secret" not in body
    assert "web pages" in json.loads(body)["error"]


def test_a_page_request_marked_only_by_sec_fetch_site_is_refused(endpoint: str) -> None:
    status, _, body = _request(endpoint, "GET", "/", headers={"Sec-Fetch-Site": "cross-site"})

    assert (status, json.loads(body)["error"]) == (
        403,
        "requests from web pages (Sec-Fetch-Site 'cross-site') are refused",
    )


def test_a_dns_rebinding_host_is_refused_and_an_allowed_host_is_served(endpoint: str) -> None:
    port = urlparse(endpoint).port
    rebound = _request(
        endpoint, "POST", "/", b'{"TableName": "secrets"}', {**SCAN, "Host": f"evil.example:{port}"}
    )
    allowed = _request(
        endpoint, "POST", "/", b'{"TableName": "secrets"}', {**SCAN, "Host": f"local-aws:{port}"}
    )

    assert rebound[0] == 403 and b"the-secret" not in rebound[2]
    assert "'evil.example' is not a loopback name" in json.loads(rebound[2])["error"]
    assert allowed[0] == 200 and b"the-secret" in allowed[2]


def test_admin_state_changes_need_json_and_the_custom_header(endpoint: str) -> None:
    admin = LocalAwsAdmin(endpoint)
    form_reset = _request(endpoint, "POST", "/_lambdapipe/reset", b"x=1", {"Content-Type": "text/plain"})
    plain_fault = _request(
        endpoint,
        "POST",
        "/_lambdapipe/faults",
        json.dumps({"service": "dynamodb", "error": "dynamodb_throughput"}).encode(),
        {"Content-Type": "text/plain", "X-Lambdapipe-Admin": "1"},
    )
    moto_reset = _request(endpoint, "POST", "/moto-api/reset")

    assert [form_reset[0], plain_fault[0], moto_reset[0]] == [403, 403, 403]
    assert admin.faults() == []
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, **CREDENTIALS)
    assert dynamodb.get_item(TableName=TABLE, Key={"id": {"S": "the-secret"}})["Item"], "nothing was reset"
    fault_id = admin.add_fault("sqs", "internal_error", count=1)  # the admin client still works
    assert [fault.id for fault in admin.faults()] == [fault_id]
    admin.clear_faults()


def test_sdks_and_the_aws_cli_work_unchanged(endpoint: str, tmp_path: Path) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)
    s3.create_bucket(Bucket="sdk-bucket")
    s3.put_object(Bucket="sdk-bucket", Key="k", Body=b"v")
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    listed = subprocess.run(
        [str(VENV_BIN / "aws"), "s3api", "list-objects-v2", "--bucket", "sdk-bucket", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert s3.get_object(Bucket="sdk-bucket", Key="k")["Body"].read() == b"v"
    assert listed.returncode == 0, listed.stderr
    assert [item["Key"] for item in json.loads(listed.stdout)["Contents"]] == ["k"]


def test_the_runtime_api_refuses_a_page_posting_an_invocation_result() -> None:
    server = RuntimeApiServer()
    try:
        status, _, body = _request(
            f"http://{server.address}",
            "POST",
            f"{API_PREFIX}/invocation/some-id/response",
            b'{"forged": true}',
            {"Origin": EVIL_ORIGIN, "Content-Type": "text/plain"},
        )
    finally:
        server.close()

    assert status == 403 and "web pages" in json.loads(body)["error"]


ATTACK_PAGE = """<!doctype html><script>
window.results = (async () => {
  const put = fetch(STACK + "/", {method: "POST", body: JSON.stringify(
      {TableName: "secrets", Item: {id: {S: "written-by-a-page"}}}),
    headers: {"X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0"}});
  const scan = fetch(STACK + "/", {method: "POST", body: JSON.stringify({TableName: "secrets"}),
    headers: {"X-Amz-Target": "DynamoDB_20120810.Scan", "Content-Type": "application/x-amz-json-1.0"}});
  const fault = fetch(STACK + "/_lambdapipe/faults", {method: "POST", mode: "no-cors",
    body: JSON.stringify({service: "dynamodb", error: "dynamodb_throughput"})});
  const outcome = (p) => p.then(r => r.text()).catch(e => "failed: " + e);
  return [await outcome(put), await outcome(scan), await outcome(fault)];
})();
</script>"""


def test_a_page_in_a_real_browser_can_neither_read_nor_change_the_stack(endpoint: str) -> None:
    from playwright.sync_api import sync_playwright

    page_server = _serve_page(ATTACK_PAGE.replace("STACK", json.dumps(endpoint)))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{page_server.server_address[1]}/")
                put, scan, fault = page.evaluate("window.results")
            finally:
                browser.close()
    finally:
        page_server.shutdown()
        page_server.server_close()

    assert put.startswith("failed") and scan.startswith("failed"), (put, scan)
    assert "the-secret" not in scan
    assert fault == ""  # no-cors: the page reads nothing, and the server did nothing
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, **CREDENTIALS)
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key={"id": {"S": "written-by-a-page"}})
    assert LocalAwsAdmin(endpoint).faults() == []


def _serve_page(html: str) -> http.server.HTTPServer:
    """Serve ``html`` at / from another loopback port: the attacker's origin."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = http.server.HTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_stack_bound_to_every_interface_is_reached_at_loopback_and_accepts_that_host(
    tmp_path: Path,
) -> None:
    everywhere = LocalAws(host="0.0.0.0", port=4566, state_dir=tmp_path)  # not started: no server binds

    assert everywhere.endpoint_url == "http://127.0.0.1:4566"  # its runtimes and own clients use this
    assert browser_refusal("POST", "/", {"host": "127.0.0.1:4566"}) is None
    assert "'0.0.0.0' is not a loopback name" in browser_refusal("POST", "/", {"host": "0.0.0.0:4566"})


@pytest.mark.parametrize("name", ["ip6-localhost", "localhost.localdomain", "attacker.example"])
def test_only_names_a_browser_keeps_on_the_machine_count_as_loopback(name: str) -> None:
    assert browser_refusal("GET", "/", {"host": f"{name}:4566"}) is not None
    assert browser_refusal("GET", "/", {"host": "api.localhost:4566"}) is None
