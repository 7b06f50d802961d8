"""Refuse whatever a web browser sends to the local stack: it trusts no page, whatever its origin.

Binding to 127.0.0.1 keeps other machines out, not the pages open in a developer's browser: any page
may send requests to a loopback port, and DNS rebinding makes them same-origin, so CORS alone cannot
protect a server that checks no signature. Browsers mark their requests: ``Origin`` on every CORS and
every POST request, ``Sec-Fetch-Site`` on the rest (current Chromium, Firefox 90+, Safari 16.4+; a
page in an older browser can still make a simple GET), the page's host name in ``Host`` after
rebinding. AWS SDKs and the AWS CLI send neither header and address the stack by a loopback name or
a host name it was told to accept, so they pass unchanged.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

ADMIN_PATH_PREFIXES = ("/_lambdapipe/", "/moto-api/")
ADMIN_HEADER = "X-Lambdapipe-Admin"  # a custom header: a page cannot send it without a CORS preflight
# Only names browsers resolve to loopback themselves: others go to DNS, which an attacker may rebind.
LOOPBACK_NAMES = frozenset({"localhost"})
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def browser_refusal(
    method: str, path: str, headers: Mapping[str, str], allowed_hosts: Collection[str] = ()
) -> str | None:
    """Why this request is refused, or None; ``headers`` maps lower-case names to values."""
    host = _host_name(headers.get("host", ""))
    if host and not (_is_loopback(host) or host in allowed_hosts):
        return f"Host {host!r} is not a loopback name (a rebound DNS name?); accept it with --allow-host"
    if "origin" in headers:
        return f"requests from web pages (Origin {headers['origin']!r}) are refused: no CORS here"
    if headers.get("sec-fetch-site", "none") != "none":
        return f"requests from web pages (Sec-Fetch-Site {headers['sec-fetch-site']!r}) are refused"
    if method == "OPTIONS":
        return "CORS preflight requests are refused: the local stack serves no web page"
    if path.startswith(ADMIN_PATH_PREFIXES) and method not in READ_ONLY_METHODS:
        if headers.get(ADMIN_HEADER.lower()) != "1":
            return f"admin requests that change state need the header {ADMIN_HEADER}: 1"
        has_body = headers.get("content-length", "0") not in ("", "0")
        if has_body and headers.get("content-type", "").split(";")[0].strip() != "application/json":
            return "admin request bodies must be Content-Type: application/json"
    return None


class BrowserGuard:
    """WSGI middleware: 403 for browser requests, and no ``Access-Control-*`` header on any answer."""

    def __init__(self, app: WsgiApp, allowed_hosts: Collection[str] = ()) -> None:
        self.app = app
        self.allowed_hosts = frozenset(name.lower() for name in allowed_hosts)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        refusal = browser_refusal(method, environ.get("PATH_INFO", ""), _headers(environ), self.allowed_hosts)
        if refusal is not None:
            body = json.dumps({"error": refusal}).encode()
            start_response(
                "403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]

        def without_cors(status: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            kept = [
                (name, value) for name, value in headers if not name.lower().startswith("access-control-")
            ]
            return start_response(status, kept, *exc_info)

        return self.app(environ, without_cors)


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


def _host_name(host_header: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):  # *.localhost never leaves the machine
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
