"""A REST API (payload 1.0) named after the function: a resource per path, a method per route with a
proxy integration with the alias, and a deployment to the manifest's stage whenever what the stage
serves differs from the manifest (tracked in the deployment's description, so a deploy that died
between a change and its deployment is completed by the next one)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from lambdapipe.deploy.endpoint_context import MANAGED_TAGS, EndpointContext, items
from lambdapipe.deploy.endpoint_permissions import api_statement
from lambdapipe.packaging.http_settings import HttpSettings

STATEMENT_ID = "lambdapipe-rest-api"


def find(context: EndpointContext) -> dict[str, Any] | None:
    apis = items(context.clients.rest.get_rest_apis, "items")
    api = next((api for api in apis if api["name"] == context.function_name), None)
    return context.managed("REST API", api, (api or {}).get("tags"), (api or {}).get("id", ""))


def ensure(context: EndpointContext, settings: HttpSettings) -> dict[str, Any]:
    rest = context.clients.rest
    api = find(context)
    if api is None:
        api = rest.create_rest_api(
            name=context.function_name,
            binaryMediaTypes=list(settings.binary_media_types),
            tags=MANAGED_TAGS,
        )
        context.wrote(f"created REST API {api['id']}")
    api_id = api["id"]
    _binary_media_types(context, api, settings)
    resources = {
        item["path"]: item for item in items(rest.get_resources, "items", restApiId=api_id, embed=["methods"])
    }
    wanted = set(settings.route_pairs)
    for path, resource in resources.items():
        for method in list(resource.get("resourceMethods") or {}):
            if (method, path) not in wanted:
                rest.delete_method(restApiId=api_id, resourceId=resource["id"], httpMethod=method)
                del resource["resourceMethods"][method]
                context.wrote(f"REST API {api_id}: removed {method} {path}")
    _remove_unused_resources(context, api_id, resources, settings)
    for method, path in settings.route_pairs:
        _method(context, api_id, _resource(context, api_id, path, resources), method, path)
    _deploy_stage(context, api_id, settings)
    context.permissions.ensure([api_statement(STATEMENT_ID, context.region, context.account, api_id)])
    return api


def remove(context: EndpointContext) -> None:
    api = find(context)
    if api is not None:
        context.clients.rest.delete_rest_api(restApiId=api["id"])
        context.wrote(f"deleted REST API {api['id']}")
    context.permissions.remove([STATEMENT_ID])


def served_digest(context: EndpointContext, settings: HttpSettings) -> str:
    """What a stage deployed from the manifest serves: its routes, target and binary types."""
    served = [sorted(settings.routes), context.target_arn, sorted(settings.binary_media_types)]
    return "lambdapipe " + hashlib.sha256(json.dumps(served).encode()).hexdigest()[:16]


def _binary_media_types(context: EndpointContext, api: dict[str, Any], settings: HttpSettings) -> None:
    current = set(api.get("binaryMediaTypes") or [])
    wanted = set(settings.binary_media_types)
    if current == wanted:
        return
    # JSON Pointer escaping: "image/png" is /binaryMediaTypes/image~1png.
    operations = [
        {"op": op, "path": "/binaryMediaTypes/" + kind.replace("~", "~0").replace("/", "~1")}
        for op, kinds in (("add", wanted - current), ("remove", current - wanted))
        for kind in sorted(kinds)
    ]
    context.clients.rest.update_rest_api(restApiId=api["id"], patchOperations=operations)
    context.wrote(f"REST API {api['id']}: binary media types {sorted(wanted)}")


def _remove_unused_resources(
    context: EndpointContext, api_id: str, resources: dict[str, dict], settings: HttpSettings
) -> None:
    """Resources no route needs any more, deepest first: an empty ``/{id}`` would still shadow a later
    ``/{proxy+}`` on AWS."""
    needed = {"/"}
    for _, path in settings.route_pairs:
        segments = [segment for segment in path.split("/") if segment]
        needed |= {"/" + "/".join(segments[:depth]) for depth in range(1, len(segments) + 1)}
    for path in sorted(set(resources) - needed, key=lambda path: path.count("/"), reverse=True):
        if path in resources and not resources[path].get("resourceMethods"):
            context.clients.rest.delete_resource(restApiId=api_id, resourceId=resources.pop(path)["id"])
            for child in [other for other in resources if other.startswith(path + "/")]:
                del resources[child]  # AWS deletes the children with it
            context.wrote(f"REST API {api_id}: removed resource {path}")


def _resource(context: EndpointContext, api_id: str, path: str, resources: dict[str, dict]) -> dict:
    """The resource at ``path``, creating the missing ones along it."""
    parent = resources["/"]
    walked = ""
    for part in [segment for segment in path.split("/") if segment]:
        walked += "/" + part
        if walked not in resources:
            created = context.clients.rest.create_resource(
                restApiId=api_id, parentId=parent["id"], pathPart=part
            )
            resources[walked] = created
            context.wrote(f"REST API {api_id}: resource {walked}")
        parent = resources[walked]
    return parent


def _method(context: EndpointContext, api_id: str, resource: dict, method: str, path: str) -> None:
    rest = context.clients.rest
    uri = f"arn:aws:apigateway:{context.region}:lambda:path/2015-03-31/functions/{context.target_arn}/invocations"
    existing = (resource.get("resourceMethods") or {}).get(method)
    if existing is None:
        rest.put_method(
            restApiId=api_id, resourceId=resource["id"], httpMethod=method, authorizationType="NONE"
        )
        context.wrote(f"REST API {api_id}: method {method} {path}")
    integration = (existing or {}).get("methodIntegration") or {}
    if integration.get("type") == "AWS_PROXY" and integration.get("uri") == uri:
        return
    rest.put_integration(
        restApiId=api_id,
        resourceId=resource["id"],
        httpMethod=method,
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=uri,
    )
    context.wrote(f"REST API {api_id}: {method} {path} -> {context.target_arn}")


def _deploy_stage(context: EndpointContext, api_id: str, settings: HttpSettings) -> None:
    rest = context.clients.rest
    stage_name = settings.stage
    stage = next(
        (s for s in rest.get_stages(restApiId=api_id).get("item", []) if s["stageName"] == stage_name), None
    )
    digest = served_digest(context, settings)
    if stage is not None and stage.get("deploymentId"):
        deployed = rest.get_deployment(restApiId=api_id, deploymentId=stage["deploymentId"])
        if deployed.get("description") == digest:
            return
    rest.create_deployment(restApiId=api_id, stageName=stage_name, description=digest)
    context.wrote(f"REST API {api_id}: deployed to stage {stage_name}")
