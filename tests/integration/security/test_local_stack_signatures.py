"""With ``--check-signatures`` the local stack serves only requests signed with its secret key, as AWS
does (the optional part of finding 1 of the security issue: moto checks no signature at all).

The whole test suite runs its stacks with the check on, so every client the product uses (boto3,
aiobotocore, the AWS CLI, the JS SDK in Node.js functions, the functions' own session credentials)
is proven to sign in a way the check accepts; these tests prove that what is not signed right is
refused, with the error code AWS gives.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambdapipe_local import LocalAws
from lambdapipe_local.server import main
from tests.support.aws_setup import LAMBDA_ASSUME_ROLE

LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
LISTS = {
    "s3": lambda client: client.list_buckets(),
    "dynamodb": lambda client: client.list_tables(),
    "sqs": lambda client: client.list_queues(),
    "sns": lambda client: client.list_topics(),
    "lambda": lambda client: client.list_functions(),
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalAws]:
    with LocalAws(check_signatures=True, credentials=("stack-key", "stack-secret")) as aws:
        yield aws


def _client(aws: LocalAws, service: str, key_id: str = "stack-key", secret: str = "stack-secret") -> Any:
    return boto3.client(
        service,
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.mark.parametrize("service", sorted(LISTS))
def test_a_request_signed_with_the_wrong_secret_or_an_unknown_key_is_refused_with_awss_code(
    stack: LocalAws, service: str
) -> None:
    codes = []
    for key_id, secret in (("stack-key", "guessed"), ("testing", "testing")):
        with pytest.raises(ClientError) as refused:
            LISTS[service](_client(stack, service, key_id, secret))
        codes.append(
            (
                refused.value.response["ResponseMetadata"]["HTTPStatusCode"],
                refused.value.response["Error"]["Code"],
            )
        )

    assert codes == [(403, "SignatureDoesNotMatch"), (403, "InvalidClientTokenId")]
    LISTS[service](_client(stack, service))  # the stack's own key passes


def test_an_unsigned_request_is_refused(stack: LocalAws) -> None:
    _client(stack, "s3").create_bucket(Bucket="unsigned-probe")

    with pytest.raises(urllib.error.HTTPError) as refused:
        LOOPBACK.open(f"{stack.endpoint_url}/unsigned-probe")

    assert refused.value.code == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in refused.value.read()


@pytest.mark.parametrize("signature_version", [None, "s3v4"])  # boto3's default for a custom endpoint is v2
def test_presigned_urls_open_and_a_tampered_one_is_refused(
    stack: LocalAws, signature_version: str | None
) -> None:
    s3 = _client(stack, "s3")
    s3.create_bucket(Bucket="presigned")
    s3.put_object(Bucket="presigned", Key="a dir/report ü+1.txt", Body=b"the report")
    s3.put_object(Bucket="presigned", Key="other.txt", Body=b"another")
    signer = boto3.client(
        "s3",
        endpoint_url=stack.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="stack-key",
        aws_secret_access_key="stack-secret",
        config=Config(signature_version=signature_version) if signature_version else None,
    )
    url = signer.generate_presigned_url(
        "get_object", Params={"Bucket": "presigned", "Key": "a dir/report ü+1.txt"}
    )
    tampered = url.replace("a%20dir/report%20%C3%BC%2B1.txt", "other.txt")

    assert LOOPBACK.open(url).read() == b"the report"
    assert tampered != url
    with pytest.raises(urllib.error.HTTPError) as refused:
        LOOPBACK.open(tampered)
    assert refused.value.code == 403


def test_functions_reach_the_stack_with_their_own_session_credentials(stack: LocalAws) -> None:
    handler = (
        "import boto3\n"
        "def handler(event, context):\n"
        "    boto3.client('s3').put_object(Bucket='from-functions', Key='k', Body=b'written')\n"
        "    return 'ok'\n"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", handler)
    role = _client(stack, "iam").create_role(RoleName="signing", AssumeRolePolicyDocument=LAMBDA_ASSUME_ROLE)
    _client(stack, "s3").create_bucket(Bucket="from-functions")
    lambda_client = _client(stack, "lambda")
    lambda_client.create_function(
        FunctionName="writer",
        Runtime="python3.11",
        Role=role["Role"]["Arn"],
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=30,
    )

    response = lambda_client.invoke(FunctionName="writer", Payload=b"{}")

    assert "FunctionError" not in response, response["Payload"].read()
    assert json.loads(response["Payload"].read()) == "ok"
    assert _client(stack, "s3").get_object(Bucket="from-functions", Key="k")["Body"].read() == b"written"


def test_credentials_that_are_not_key_id_colon_secret_are_refused_on_the_command_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--check-signatures", "--credentials", "only-a-key-id"])

    assert exited.value.code == 2
    assert "--credentials must be KEY_ID:SECRET (got 'only-a-key-id')" in capsys.readouterr().err
