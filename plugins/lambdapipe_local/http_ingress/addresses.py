"""Which API a request addresses: by host name, as on AWS, or by a path prefix on the stack's own URL.

AWS serves ``https://<api-id>.execute-api.<region>.amazonaws.com/<stage>/<path>`` and
``https://<url-id>.lambda-url.<region>.on.aws/<path>``. Locally the same names end in ``.localhost``
(which never leaves the machine; curl and browsers resolve it to loopback themselves):
``http://<api-id>.execute-api.localhost:4566/<stage>/<path>`` and
``http://<url-id>.lambda-url.<region>.localhost:4566/<path>``. A client that cannot resolve such names
uses the path style on the stack's URL: ``/_aws/execute-api/<api-id>/<stage>/<path>`` and
``/_aws/lambda-url/<url-id>/<path>`` (or LocalStack's ``/restapis/<api-id>/<stage>/_user_request_/<path>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PATH_PREFIX = "/_aws/"
API_KIND = "execute-api"

_HOST = re.compile(r"(?P<id>[a-z0-9]+)\.(?P<kind>execute-api|lambda-url)(\.[a-z0-9-]+)*\.localhost")
_PATH = re.compile(r"/_aws/(?P<kind>execute-api|lambda-url)/(?P<id>[A-Za-z0-9]+)(?P<rest>/.*)?")
# LocalStack's older path style, which tools and tutorials still use: /restapis/<id>/<stage>/_user_request_/<path>
_USER_REQUEST = re.compile(r"/restapis/(?P<id>[A-Za-z0-9]+)/(?P<stage>[^/]+)/_user_request_(?P<rest>/.*)?")


@dataclass(frozen=True)
class Address:
    """An API (``execute-api``) or a function URL (``lambda-url``), and the path asked of it."""

    kind: Literal["execute-api", "lambda-url"]
    id: str
    path: str  # starts with "/"; for an API the stage, if any, is still its first segment


def address_of(host_header: str, path: str) -> Address | None:
    """The addressed API or function URL, or None for a request to the AWS APIs themselves."""
    host = host_header.strip().lower().rsplit(":", 1)[0] if host_header.count(":") <= 1 else ""
    by_host = _HOST.fullmatch(host)
    if by_host:
        return Address(by_host["kind"], by_host["id"], path or "/")  # type: ignore[arg-type]
    user_request = _USER_REQUEST.fullmatch(path)
    if user_request:
        return Address(API_KIND, user_request["id"], f"/{user_request['stage']}{user_request['rest'] or '/'}")
    if not path.startswith(PATH_PREFIX):
        return None
    by_path = _PATH.fullmatch(path)
    if by_path is None:
        return None
    return Address(by_path["kind"], by_path["id"], by_path["rest"] or "/")  # type: ignore[arg-type]
