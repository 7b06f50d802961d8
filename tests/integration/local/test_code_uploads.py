"""Code that is not a zip is refused where AWS refuses it: at upload, with AWS's message.

Accepted, it broke later: a layer that is not a zip published fine, then every Invoke of a function
using it answered a bare HTTP 500, which SDKs retry four times.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from lambdapipe_local import LocalAws

NOT_A_ZIP = "Could not unzip uploaded file. Please check your file, then try to upload again."
EMPTY_ZIP = "Uploaded file must be a non-empty zip"


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    return buffer.getvalue()


CONTENTS = [
    pytest.param(b"plain text, not an archive", NOT_A_ZIP, id="not-a-zip"),
    pytest.param(_empty_zip(), EMPTY_ZIP, id="empty-zip"),
]


def _refusal(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = error.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


@pytest.mark.parametrize(("content", "message"), CONTENTS)
def test_a_layer_that_is_not_a_non_empty_zip_is_refused_at_publish(
    aws: LocalAws, content: bytes, message: str
) -> None:
    lambda_client = aws.client("lambda")
    with pytest.raises(ClientError) as refused:
        lambda_client.publish_layer_version(LayerName="broken", Content={"ZipFile": content})

    assert _refusal(refused) == ("InvalidParameterValueException", message, 400)
    assert lambda_client.list_layers()["Layers"] == []


@pytest.mark.parametrize(("content", "message"), CONTENTS)
def test_function_code_that_is_not_a_non_empty_zip_is_refused_at_create_and_update(
    aws: LocalAws,
    make_function: Callable[..., str],
    python_probe_zip: bytes,
    content: bytes,
    message: str,
) -> None:
    lambda_client = aws.client("lambda")
    with pytest.raises(ClientError) as refused_create:
        make_function("broken", content, "probe.echo")
    name = make_function("probe", python_probe_zip, "probe.echo")
    with pytest.raises(ClientError) as refused_update:
        lambda_client.update_function_code(FunctionName=name, ZipFile=content)

    assert _refusal(refused_create) == ("InvalidParameterValueException", message, 400)
    assert _refusal(refused_update) == ("InvalidParameterValueException", message, 400)
    assert [f["FunctionName"] for f in lambda_client.list_functions()["Functions"]] == [name]
    echoed = lambda_client.invoke(FunctionName=name, Payload=b'{"still": "the probe"}')  # code unchanged
    assert json.loads(echoed["Payload"].read()) == {"still": "the probe"}
