"""The manifest's ``layers`` as published layer versions: a folder is built and published only when
its content is new (the version's description records the zip's sha256), an ARN is used as given."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from lambdapipe.packaging.layers import build_layer, is_layer_arn
from lambdapipe.packaging.manifest import Manifest

log = logging.getLogger(__name__)

CONTENT_MARK = "lambdapipe sha256:"


def ensure_layers(
    manifest: Manifest, function_dir: Path, lambda_client: Any, attached: tuple[str, ...] = ()
) -> tuple[tuple[str, ...], bool]:
    """The layer version ARNs to attach, in the manifest's order, and whether one was published.
    ``attached``: the function's layers now, preferred among versions of the same content (two
    deploys that published the same new content at once each keep theirs)."""
    arns: list[str] = []
    published = False
    for index, entry in enumerate(manifest.layers):
        if is_layer_arn(entry):
            arns.append(entry)
            continue
        layer = build_layer(function_dir, entry, f"layers[{index}]")
        arn = _version_with_content(lambda_client, layer.name, layer.code_sha256, attached)
        if arn is None:
            arn = lambda_client.publish_layer_version(
                LayerName=layer.name,
                Description=f"{CONTENT_MARK}{layer.code_sha256}",
                Content={"ZipFile": layer.zip_bytes},
            )["LayerVersionArn"]
            published = True
            log.info("%s: published layer %s (%d files)", manifest.name, arn, layer.file_count)
        arns.append(arn)
    return tuple(arns), published


def _version_with_content(
    lambda_client: Any, layer_name: str, sha256: str, attached: tuple[str, ...]
) -> str | None:
    """The ARN of a version of the layer published from this content: one already attached, else the
    oldest (so deploys that raced to publish it settle on one), or None."""
    matching: list[dict[str, Any]] = []
    try:
        for page in lambda_client.get_paginator("list_layer_versions").paginate(LayerName=layer_name):
            matching += [
                v for v in page.get("LayerVersions", []) if v.get("Description") == f"{CONTENT_MARK}{sha256}"
            ]
    except lambda_client.exceptions.ResourceNotFoundException:
        return None
    for version in matching:
        if version["LayerVersionArn"] in attached:
            return version["LayerVersionArn"]
    return min(matching, key=lambda version: int(version["Version"]))["LayerVersionArn"] if matching else None
