"""``[http]`` in function.toml: the routes API Gateway sends to a function, and its function URL."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lambdapipe.packaging.errors import ManifestError
from lambdapipe.packaging.manifest_checks import check_type, string_tuple

HTTP_KINDS = ("http-api", "rest-api", "function-url")
HTTP_METHODS = ("ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_ROUTE_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+|\{[A-Za-z0-9_]+\+?\}")
_STAGE = re.compile(r"[A-Za-z0-9_-]{1,128}")
_MEDIA_TYPE = re.compile(r"[a-z0-9.+*-]+/[a-z0-9.+*-]+")


@dataclass(frozen=True)
class HttpSettings:
    """``[http]``: the routes API Gateway sends to the function, and a function URL.

    Each deploy creates what is missing and brings the rest in line (an HTTP API and a REST API named
    after the function, a function URL on the alias), with the permission each needs to invoke it.
    """

    routes: tuple[str, ...] = ()
    apis: tuple[str, ...] = ("http-api",)
    stage: str = "live"
    binary_media_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "routes", string_tuple("routes", self.routes, allow_empty=True))
        object.__setattr__(self, "apis", string_tuple("apis", self.apis, allow_empty=False))
        object.__setattr__(
            self,
            "binary_media_types",
            string_tuple("binary_media_types", self.binary_media_types, allow_empty=True),
        )
        for index, kind in enumerate(self.apis):
            if kind not in HTTP_KINDS:
                raise ManifestError(
                    f"apis[{index}]", f"must be one of {', '.join(HTTP_KINDS)} (got {kind!r})"
                )
        if not self.routes and set(self.apis) - {"function-url"}:
            raise ManifestError("routes", 'an API needs at least one route, e.g. "GET /greeting"')
        for index, route in enumerate(self.routes):
            self._check_route(f"routes[{index}]", route)
        if len(set(self.routes)) != len(self.routes):
            raise ManifestError("routes", "lists a route twice")
        self._check_variables_agree()
        check_type("stage", self.stage, str, "a string")
        if not _STAGE.fullmatch(self.stage):
            raise ManifestError("stage", f"must be 1-128 letters, digits, - or _ (got {self.stage!r})")
        for index, media_type in enumerate(self.binary_media_types):
            if not _MEDIA_TYPE.fullmatch(media_type):
                raise ManifestError(
                    f"binary_media_types[{index}]",
                    f'must be a media type like "image/*" (got {media_type!r})',
                )

    @property
    def route_pairs(self) -> tuple[tuple[str, str], ...]:
        """``(method, path)`` per route, as checked in ``__post_init__``."""
        return tuple(tuple(route.split(" ", 1)) for route in self.routes)  # type: ignore[misc]

    @staticmethod
    def _check_route(name: str, route: str) -> None:
        method, _, path = route.partition(" ")
        if method not in HTTP_METHODS or not path.startswith("/"):
            raise ManifestError(
                name, f'must be "METHOD /path" with METHOD one of {", ".join(HTTP_METHODS)} (got {route!r})'
            )
        if path != "/" and path.endswith("/"):
            raise ManifestError(name, f"must not end with / (got {route!r}): API Gateway's paths do not")
        segments = path.strip("/").split("/") if path.strip("/") else []
        for position, segment in enumerate(segments):
            if not _ROUTE_SEGMENT.fullmatch(segment):
                raise ManifestError(name, f"path segment {segment!r} is not a name, {{param}} or {{param+}}")
            if segment.endswith("+}") and position != len(segments) - 1:
                raise ManifestError(name, f"the greedy {segment} must be the last path segment")

    def _check_variables_agree(self) -> None:
        """One variable per path level across all routes (``/items/{id}`` and ``/items/{itemId}`` is
        two): a REST API refuses the second resource, mid-deploy."""
        variables: dict[tuple[str, ...], set[str]] = {}
        for _, path in self.route_pairs:
            segments = [segment for segment in path.split("/") if segment]
            for depth, segment in enumerate(segments):
                if segment.startswith("{"):
                    variables.setdefault(tuple(segments[:depth]), set()).add(segment)
        for parent, names in variables.items():
            if len(names) > 1:
                raise ManifestError(
                    "routes",
                    f"/{'/'.join(parent)} has {len(names)} different variable segments ({', '.join(sorted(names))}): "
                    "API Gateway allows one per level, so name them alike",
                )
