"""When an IAM ``Resource`` is an over-broad wildcard: the rule ``function.toml`` permissions follow.

An ARN is ``arn:<partition>:<service>:<region>:<account>:<resource>``. A resource is over-broad
(``Allow`` needs ``allow_wildcard = true``) when it is ``*``, or when a ``*`` or ``?`` appears in

- the partition, service, region or account (``arn:*:s3:::b/k``, ``arn:aws:sqs:*:123:q``);
- the part of ``<resource>`` that names *one* resource: its type and name. What follows a named
  resource may be a pattern, since it only narrows what the grant reaches inside that resource.

Where the name ends depends on the service:

====================  ==========================================  =====================================
service               named part (no wildcard)                    may be a pattern after it
====================  ==========================================  =====================================
s3 (bucket ARN)       the bucket: ``uploads``                     the key: ``uploads/in/*.jpg``
s3 (regional ARN)     type/name: ``accesspoint/ap``, ``job/id``   ``accesspoint/ap/object/*``
iam, sts              everything: paths lead to the name          nothing (``role/path/*`` = many roles)
secretsmanager        ``secret:<name>``; ``<name>-??????`` is     nothing: ``secret:db-*`` also matches
                      one secret (AWS's 6-character suffix)       every secret named ``db-<anything>``
execute-api           the API id: ``a1b2c3/``                     stage/method/path: ``a1b2c3/*/GET/x``
apigateway            ``/restapis/<id>`` (type and id)            ``/restapis/<id>/stages/*``
logs                  ``log-group:<whole group name>``            ``:*``, ``:log-stream:*``
anything else         type and name, split at ``/`` or ``:``      ``table/t/index/*``, ``function:f:*``,
                      (``table/t``, ``function:f``, ``queue``)    ``parameter/app/*`` (a named prefix)
====================  ==========================================  =====================================

A ``Deny`` is never over-broad (it takes privileges away); the caller decides that.
"""

from __future__ import annotations

import re

# AWS appends "-" and six random characters to a secret's name in its ARN; "??????" matches exactly
# those six (AWS's documented way to name one secret without knowing its suffix).
_SECRET_BY_NAME = re.compile(r"(?P<name>[^*?]+)-\?{6}")
_ARN_PARTS = 6  # arn, partition, service, region, account, resource


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def is_over_broad_resource(resource: str) -> bool:
    """True when an ``Allow`` on ``resource`` reaches more than the resources it names (see module)."""
    parts = resource.split(":", _ARN_PARTS - 1)
    if len(parts) < _ARN_PARTS:
        return has_wildcard(resource)
    _, partition, service, region, account, path = parts
    if any(has_wildcard(part) for part in (partition, service, region, account)):
        return True
    return any(has_wildcard(part) for part in named_parts(service, region, account, path))


def named_parts(service: str, region: str, account: str, path: str) -> list[str]:
    """The parts of ``path`` (an ARN's resource) that must name exactly one resource."""
    if service in ("iam", "sts"):
        return [path]
    if service == "secretsmanager" and path.startswith("secret:"):
        name = path.removeprefix("secret:")
        return [] if _SECRET_BY_NAME.fullmatch(name) else [name]
    if service == "s3" and not (region or account):  # with them it names an access point, a job...
        return [path.split("/", 1)[0]]  # the bucket
    if service == "execute-api":
        return [path.split("/", 1)[0]]  # the API id
    if service == "logs" and path.startswith("log-group:"):
        return ["log-group", path.removeprefix("log-group:").split(":", 1)[0]]  # the group's whole name
    return re.split(r"[/:]", path.removeprefix("/"))[:2]  # type and name: table/orders, function:f
