"""What botocore's own service models say about a request: service names and REST routes.

Deriving routes from the models (method + requestUri + required query/header members) covers every
operation of every REST service without hand-written regexes, and stays right when botocore adds
operations. A model is loaded once, on first use (S3's takes ~0.1 s), then matching is a dict
lookup plus a few regex matches.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.loaders import create_loader

# SigV4 signing names that are not themselves botocore service names, or that several services
# share. Anything else is looked up as a service name directly.
SIGNING_NAME_SERVICES: dict[str, tuple[str, ...]] = {
    "dynamodb": ("dynamodb", "dynamodbstreams"),
    "s3": ("s3", "s3control"),
    "monitoring": ("cloudwatch",),
    "states": ("stepfunctions",),
    "email": ("ses", "sesv2"),
    "es": ("opensearch", "es"),
    "execute-api": ("apigatewaymanagementapi",),
    "apigateway": ("apigateway", "apigatewayv2"),  # v2 signs as apigateway too; their routes differ
}

_LABEL = re.compile(r"\{([^}+]+)(\+?)\}")


@dataclass(frozen=True)
class RestRoute:
    """One operation's HTTP binding, compiled for matching."""

    operation: str
    method: str
    path: re.Pattern[str]
    query: Mapping[str, str | None]  # literal query from requestUri; None = key must be present
    required_query: tuple[str, ...]
    required_headers: tuple[str, ...]  # WSGI environ keys
    literal_length: int
    deprecated: bool


@dataclass(frozen=True)
class RouteMatch:
    operation: str
    labels: Mapping[str, str]


@dataclass(frozen=True)
class ServiceModel:
    """The parts of one botocore service model that identify requests."""

    name: str
    protocol: str
    target_prefix: str | None
    operations: frozenset[str]
    routes_by_method: Mapping[str, tuple[RestRoute, ...]]

    def match_rest(
        self, method: str, path: str, query: Mapping[str, list[str]], environ: Mapping[str, Any]
    ) -> tuple[tuple[int, int, int], RouteMatch] | None:
        """The most specific route for the request, with its rank, or None."""
        best: tuple[tuple[int, int, int], RouteMatch] | None = None
        for route in self.routes_by_method.get(method, ()):
            found = route.path.fullmatch(path)
            if found is None or not _query_satisfied(route, query, environ):
                continue
            specificity = len(route.query) + len(route.required_query) + len(route.required_headers)
            rank = (specificity, 0 if route.deprecated else 1, route.literal_length)
            if best is None or rank > best[0]:
                best = (rank, RouteMatch(route.operation, found.groupdict()))
        return best


def _query_satisfied(route: RestRoute, query: Mapping[str, list[str]], environ: Mapping[str, Any]) -> bool:
    for key, value in route.query.items():
        if key not in query or (value is not None and value not in query[key]):
            return False
    return all(key in query for key in route.required_query) and all(
        key in environ for key in route.required_headers
    )


def _environ_key(header: str) -> str:
    key = header.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


def _compile_route(name: str, operation: Mapping[str, Any], shapes: Mapping[str, Any]) -> RestRoute:
    http = operation["http"]
    path_part, _, query_part = http["requestUri"].partition("?")
    pattern, literal_length, position = [], 0, 0
    for label in _LABEL.finditer(path_part):
        literal = path_part[position : label.start()]
        pattern.append(re.escape(literal))
        literal_length += len(literal)
        pattern.append(f"(?P<{_group_name(label.group(1))}>{'.+' if label.group(2) else '[^/]+'})")
        position = label.end()
    tail = path_part[position:].rstrip("/")
    pattern.append(re.escape(tail) + "/?")
    literal_length += len(tail)
    query: dict[str, str | None] = {}
    for item in filter(None, query_part.split("&")):
        key, has_value, value = item.partition("=")
        if key != "x-id":
            query[key] = value if has_value else None
    required_query, required_headers = [], []
    input_shape = shapes.get(operation.get("input", {}).get("shape", ""), {})
    for member in input_shape.get("required", ()):
        spec = input_shape["members"][member]
        if spec.get("location") == "querystring":
            required_query.append(spec["locationName"])
        elif spec.get("location") == "header":
            required_headers.append(_environ_key(spec["locationName"]))
    return RestRoute(
        operation=name,
        method=http["method"],
        path=re.compile("".join(pattern)),
        query=query,
        required_query=tuple(required_query),
        required_headers=tuple(required_headers),
        literal_length=literal_length,
        deprecated=bool(operation.get("deprecated")),
    )


def _group_name(label: str) -> str:
    """Regex group names must be identifiers; botocore labels are, but guard against a future '-'."""
    return re.sub(r"\W", "_", label)


def _build_model(name: str) -> ServiceModel:
    raw = _loader().load_service_model(name, "service-2")
    metadata = raw["metadata"]
    protocol = (metadata.get("protocols") or [metadata["protocol"]])[0]
    routes: dict[str, list[RestRoute]] = {}
    if protocol in ("rest-json", "rest-xml"):
        for op_name, operation in raw["operations"].items():
            route = _compile_route(op_name, operation, raw["shapes"])
            routes.setdefault(route.method, []).append(route)
    return ServiceModel(
        name=name,
        protocol=protocol,
        target_prefix=metadata.get("targetPrefix"),
        operations=frozenset(raw["operations"]),
        routes_by_method={method: tuple(items) for method, items in routes.items()},
    )


@cache
def _loader() -> Any:
    return create_loader()


@cache
def available_services() -> frozenset[str]:
    """Every service name botocore knows (the names boto3.client() accepts)."""
    return frozenset(_loader().list_available_services("service-2"))


_models: dict[str, ServiceModel] = {}
_models_lock = threading.Lock()


def service_model(name: str) -> ServiceModel | None:
    """The model for a botocore service name, loaded once; None for names botocore does not know."""
    model = _models.get(name)
    if model is None and name in available_services():
        with _models_lock:
            model = _models.get(name)
            if model is None:
                model = _models[name] = _build_model(name)
    return model


def services_for_signing_name(signing_name: str) -> tuple[str, ...]:
    """Candidate botocore service names for a SigV4 credential-scope service."""
    return SIGNING_NAME_SERVICES.get(signing_name, (signing_name,))


def check_operation(service: str, operation: str) -> None:
    """Raise ValueError naming the closest operation if `service` has no `operation`."""
    model = service_model(service)
    if model is None or operation in model.operations:
        return
    close = difflib.get_close_matches(operation, model.operations, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"service {service!r} has no operation {operation!r}{hint}")


def preload(*services: str) -> None:
    """Load models ahead of the first request (a server calls this at start-up)."""
    for name in services:
        service_model(name)
