"""An HTTP API (payload 2.0) named after the function: one proxy integration with the alias, a route
per manifest route, the ``$default`` stage with auto-deploy."""

from __future__ import annotations

from typing import Any

from lambdapipe.deploy.endpoint_context import MANAGED_TAGS, EndpointContext, items
from lambdapipe.deploy.endpoint_permissions import api_statement
from lambdapipe.packaging.http_settings import HttpSettings

STATEMENT_ID = "lambdapipe-http-api"


def find(context: EndpointContext) -> dict[str, Any] | None:
    api = next(
        (
            api
            for api in items(context.clients.http.get_apis, "Items")
            if api["Name"] == context.function_name
        ),
        None,
    )
    return context.managed("HTTP API", api, (api or {}).get("Tags"), (api or {}).get("ApiId", ""))


def ensure(context: EndpointContext, settings: HttpSettings) -> dict[str, Any]:
    http = context.clients.http
    api = find(context)
    if api is None:
        api = http.create_api(Name=context.function_name, ProtocolType="HTTP", Tags=MANAGED_TAGS)
        context.wrote(f"created HTTP API {api['ApiId']}")
    api_id = api["ApiId"]
    target = f"integrations/{_integration(context, api_id)}"
    wanted = {f"{method} {path}" for method, path in settings.route_pairs}
    for route in items(http.get_routes, "Items", ApiId=api_id):
        if route["RouteKey"] not in wanted:
            http.delete_route(ApiId=api_id, RouteId=route["RouteId"])
            context.wrote(f"HTTP API {api_id}: removed route {route['RouteKey']}")
            continue
        wanted.discard(route["RouteKey"])
        if route.get("Target") != target:
            http.update_route(ApiId=api_id, RouteId=route["RouteId"], Target=target)
            context.wrote(f"HTTP API {api_id}: route {route['RouteKey']} -> {context.target_arn}")
    for route_key in sorted(wanted):
        http.create_route(ApiId=api_id, RouteKey=route_key, Target=target)
        context.wrote(f"HTTP API {api_id}: added route {route_key}")
    _default_stage(context, api_id)
    context.permissions.ensure([api_statement(STATEMENT_ID, context.region, context.account, api_id)])
    return api


def remove(context: EndpointContext) -> None:
    api = find(context)
    if api is not None:
        context.clients.http.delete_api(ApiId=api["ApiId"])
        context.wrote(f"deleted HTTP API {api['ApiId']}")
    context.permissions.remove([STATEMENT_ID])


def _integration(context: EndpointContext, api_id: str) -> str:
    wanted = ("AWS_PROXY", context.target_arn, "2.0")
    for integration in items(context.clients.http.get_integrations, "Items", ApiId=api_id):
        found = tuple(
            integration.get(key) for key in ("IntegrationType", "IntegrationUri", "PayloadFormatVersion")
        )
        if found == wanted:
            return integration["IntegrationId"]
    created = context.clients.http.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=context.target_arn,
        IntegrationMethod="POST",
        PayloadFormatVersion="2.0",
    )
    context.wrote(f"HTTP API {api_id}: integration with {context.target_arn}")
    return created["IntegrationId"]


def _default_stage(context: EndpointContext, api_id: str) -> None:
    """``$default`` with auto-deploy: route changes go live without a deployment."""
    http = context.clients.http
    stage = next(
        (s for s in items(http.get_stages, "Items", ApiId=api_id) if s["StageName"] == "$default"), None
    )
    if stage is None:
        http.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        context.wrote(f"HTTP API {api_id}: created stage $default")
    elif not stage.get("AutoDeploy"):
        http.update_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
        context.wrote(f"HTTP API {api_id}: stage $default deploys automatically")
