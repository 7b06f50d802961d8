"""The Lambda function behind an addressed API route or function URL, found in moto's control plane.

Only Lambda proxy integrations are served (REST ``AWS_PROXY``, HTTP API ``AWS_PROXY`` with payload
1.0 or 2.0); a route with another integration answers 500 naming it. Differences from AWS: the live
resources and routes are served (AWS serves a REST stage's last deployment), resource policies are
not checked, and a function has one URL (AWS allows one per alias).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from lambdapipe_local.http_ingress import routes
from lambdapipe_local.http_ingress.addresses import Address

_INVOCATION_URI = re.compile(
    r"arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/(?P<arn>.+)/invocations"
)
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_]+)\}")


class NoTarget(Exception):
    """No route or function answers the request: the status and message API Gateway would send."""

    def __init__(self, status: int, message: str, detail: str = "") -> None:
        super().__init__(detail or message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Target:
    """What to invoke and what the event says about the route that led there."""

    kind: Literal["rest-api", "http-api", "function-url"]
    function_arn: str  # qualified when the integration names an alias or version
    payload_version: str  # "1.0" or "2.0"
    account_id: str
    region: str
    api_id: str
    stage: str  # "$default" for an HTTP API's default stage and for function URLs
    route_key: str  # "GET /greeting", "$default"; a REST API's resource path
    path: str  # the path below the stage
    path_parameters: dict[str, str] = field(default_factory=dict)
    stage_variables: dict[str, str] = field(default_factory=dict)
    binary_media_types: tuple[str, ...] = ()  # a REST API's: payload 1.0 base64-encodes only these


def find(address: Address, method: str) -> Target:
    """The target of a request, or NoTarget with API Gateway's answer for a miss."""
    if address.kind == "lambda-url":
        return _function_url(address)
    found = _in_backends("apigatewayv2", address.id)
    if found is not None:
        return _http_api_target(*found, address.path, method)
    found = _in_backends("apigateway", address.id)
    if found is not None:
        return _rest_api_target(*found, address.path, method)
    raise NoTarget(404, "Not Found", f"no REST or HTTP API with id {address.id!r}")


def _in_backends(service: str, api_id: str) -> tuple[str, str, Any] | None:
    from moto.backends import get_backend

    for account, regions in list(dict.items(get_backend(service))):  # type: ignore[call-overload]
        for region, backend in list(dict.items(regions)):
            api = backend.apis.get(api_id)
            if api is not None:
                return account, region, api
    return None


def _http_api_target(account: str, region: str, api: Any, path: str, method: str) -> Target:
    stage_name, below = _split_stage(path, api.stages)
    if stage_name is None:
        if "$default" not in api.stages:
            raise NoTarget(404, "Not Found", f"HTTP API {api.api_id} has no stage for {path!r}")
        stage_name, below = "$default", path
    best: tuple[tuple[Any, ...], Any, dict[str, str]] | None = None
    for route in list(api.routes.values()):
        if route.route_key == "$default":
            candidate = ((0, (), False), route, {})
        else:
            route_method, _, template = route.route_key.partition(" ")
            parameters = routes.match(template, below)
            if parameters is None or route_method not in (method, "ANY"):
                continue
            candidate = ((1, routes.specificity(template), route_method != "ANY"), route, parameters)
        if best is None or candidate[0] > best[0]:
            best = candidate
    if best is None:
        raise NoTarget(404, "Not Found", f"HTTP API {api.api_id}: no route for {method} {below}")
    _, route, parameters = best
    if (route.authorization_type or "NONE") != "NONE":
        raise NoTarget(403, "Forbidden", f"route {route.route_key!r} needs authorization, not served locally")
    integration_id = (route.target or "").removeprefix("integrations/")
    integration = api.integrations.get(integration_id)
    if integration is None:
        raise NoTarget(500, "Internal Server Error", f"route {route.route_key!r} has no integration")
    if integration.integration_type != "AWS_PROXY":
        raise NoTarget(
            500,
            "Internal Server Error",
            f"{integration.integration_type} integrations are not served locally",
        )
    stage_variables = dict(api.stages[stage_name].stage_variables or {})
    version = integration.payload_format_version or "2.0"
    return Target(
        "http-api",
        _function_arn(integration.integration_uri, stage_variables),
        version,
        account,
        region,
        api.api_id,
        stage_name,
        # Payload 1.0's "resource" is the path template; 2.0's "routeKey" the whole key.
        route.route_key.partition(" ")[2] or route.route_key if version == "1.0" else route.route_key,
        below,
        parameters,
        stage_variables,
    )


def _rest_api_target(account: str, region: str, api: Any, path: str, method: str) -> Target:
    stage_name, below = _split_stage(path, api.stages)
    if stage_name is None:
        raise NoTarget(403, "Forbidden", f"REST API {api.id}: no stage in {path!r}")
    best: tuple[tuple[int, ...], Any, dict[str, str]] | None = None
    for resource in list(api.resources.values()):
        template = resource.get_path()
        parameters = routes.match(template, below)
        if parameters is None:
            continue
        candidate = (routes.specificity(template), resource, parameters)
        if best is None or candidate[0] > best[0]:
            best = candidate
    resource_method = None
    if best is not None:
        resource_method = best[1].resource_methods.get(method) or best[1].resource_methods.get("ANY")
    if best is None or resource_method is None:
        raise NoTarget(
            403, "Missing Authentication Token", f"REST API {api.id}: no method for {method} {below}"
        )
    _, resource, parameters = best
    if (resource_method.authorization_type or "NONE") != "NONE" or resource_method.api_key_required:
        raise NoTarget(403, "Forbidden", f"{method} {below} needs authorization, which is not served locally")
    integration = resource_method.method_integration
    if integration is None or integration.integration_type != "AWS_PROXY":
        kind = integration.integration_type if integration else "no"
        raise NoTarget(500, "Internal server error", f"{kind} integration: only AWS_PROXY is served locally")
    stage_variables = dict(api.stages[stage_name].variables or {})
    return Target(
        "rest-api",
        _function_arn(integration.uri, stage_variables),
        "1.0",
        account,
        region,
        api.id,
        stage_name,
        resource.get_path(),
        below,
        parameters,
        stage_variables,
        tuple(getattr(api, "binaryMediaTypes", None) or ()),
    )


def _function_url(address: Address) -> Target:
    from moto.awslambda.models import lambda_backends

    from lambdapipe_local.moto_backend import function_urls

    for account, regions in list(dict.items(lambda_backends)):
        for region, backend in list(dict.items(regions)):
            # The stored functions themselves: LambdaStorage.all() deep-copies each one.
            for group in list(backend._lambdas._functions.values()):
                function = group["latest"]
                config = function.url_config
                if config is None or f"//{address.id}.lambda-url." not in config.url:
                    continue
                if config.config.get("AuthType") != "NONE":
                    raise NoTarget(403, "Forbidden", "AWS_IAM function URLs are not served locally")
                return Target(
                    "function-url",
                    function_urls.target_arn(config),
                    "2.0",
                    account,
                    region,
                    address.id,
                    "$default",
                    "$default",
                    address.path,
                )
    raise NoTarget(404, "Not Found", f"no function URL with id {address.id!r}")


def _split_stage(path: str, stages: dict[str, Any]) -> tuple[str | None, str]:
    """The stage named by the path's first segment, and the path below it."""
    first, _, rest = path.lstrip("/").partition("/")
    if first and first != "$default" and first in stages:
        return first, "/" + rest
    return None, path


def _function_arn(uri: str, stage_variables: dict[str, str]) -> str:
    """A Lambda ARN from an integration URI (the ARN itself, or API Gateway's invocation path)."""
    uri = _STAGE_VARIABLE.sub(lambda found: stage_variables.get(found[1], ""), uri or "")
    invocation = _INVOCATION_URI.fullmatch(uri)
    arn = invocation["arn"] if invocation else uri
    if not arn.startswith("arn:") or ":lambda:" not in arn:
        raise NoTarget(500, "Internal Server Error", f"integration URI {uri!r} names no Lambda function")
    return arn
