"""Which API or function URL a request to the local stack addresses: by host name or by path."""

from __future__ import annotations

import pytest

from lambdapipe_local.http_ingress.addresses import Address, address_of


@pytest.mark.parametrize(
    ("host", "path", "expected"),
    [
        ("abc123.execute-api.localhost:4566", "/live/x", Address("execute-api", "abc123", "/live/x")),
        ("0f9e.lambda-url.us-east-1.localhost", "/", Address("lambda-url", "0f9e", "/")),
        ("127.0.0.1:4566", "/_aws/execute-api/abc123/live/x", Address("execute-api", "abc123", "/live/x")),
        ("127.0.0.1:4566", "/_aws/lambda-url/0f9e", Address("lambda-url", "0f9e", "/")),
        (
            "127.0.0.1:4566",
            "/restapis/abc123/live/_user_request_/x",
            Address("execute-api", "abc123", "/live/x"),
        ),
        ("127.0.0.1:4566", "/restapis/abc123/stages/live", None),  # the control plane's own path
        ("127.0.0.1:4566", "/2015-03-31/functions", None),
        ("localhost:4566", "/_lambdapipe/health", None),
    ],
)
def test_an_api_is_addressed_by_host_name_or_by_path(host: str, path: str, expected: Address | None) -> None:
    assert address_of(host, path) == expected
