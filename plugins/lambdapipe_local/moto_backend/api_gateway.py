"""Where moto's REST APIs differ from AWS in what a deploy uses: binary media types.

AWS takes ``binaryMediaTypes`` at CreateRestApi and patches one as ``/binaryMediaTypes/image~1png``
(JSON Pointer escaping, no value); moto 5.2.5 drops the first and reads the type from the
operation's ``value``. Without these, a REST API would pass every binary body as mangled text.
"""

from __future__ import annotations

import json
from typing import Any

BINARY_MEDIA_TYPES_PATH = "/binaryMediaTypes/"


def install() -> None:
    from moto.apigateway.models import RestAPI
    from moto.apigateway.responses import APIGatewayResponse

    APIGatewayResponse.create_rest_api = _keeping_binary_media_types(APIGatewayResponse.create_rest_api)
    RestAPI.apply_patch_operations = _reading_types_from_paths(RestAPI.apply_patch_operations)


def _keeping_binary_media_types(original: Any) -> Any:
    def create_rest_api(self: Any) -> Any:
        status, headers, body = original(self)
        requested = self._get_param("binaryMediaTypes")
        if status != 200 or not requested:
            return status, headers, body
        rest_api = self.backend.get_rest_api(json.loads(body)["id"])
        rest_api.binaryMediaTypes = [str(media_type) for media_type in requested]
        return status, headers, json.dumps(rest_api.to_dict())

    return create_rest_api


def _reading_types_from_paths(original: Any) -> Any:
    def apply_patch_operations(self: Any, patch_operations: list[dict[str, Any]]) -> None:
        original(self, [_with_value(operation) for operation in patch_operations])

    return apply_patch_operations


def _with_value(operation: dict[str, Any]) -> dict[str, Any]:
    """``/binaryMediaTypes/image~1png`` as moto reads it: the path's type as the value."""
    path = operation.get("path", "")
    if operation.get("op") not in ("add", "remove") or not path.startswith(BINARY_MEDIA_TYPES_PATH):
        return operation
    media_type = path.removeprefix(BINARY_MEDIA_TYPES_PATH).replace("~1", "/").replace("~0", "~")
    return {**operation, "path": BINARY_MEDIA_TYPES_PATH.rstrip("/"), "value": media_type}
