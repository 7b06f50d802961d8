"""The local AWS server's HTTP layer: keep-alive connections that stay correct request after request.

Raw ``http.client`` connections, so the test sees exactly what goes over the wire: whether the server
closed the connection, and whether each answer lines up with its request.
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator

import pytest

from lambdapipe_local.server import LocalAws

S3_AUTH = (
    "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
)


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    """A stack that checks no signature: these raw requests carry a made-up one."""
    with LocalAws() as stack:
        yield stack


@pytest.fixture
def bucket(aws: LocalAws) -> str:
    aws.client("s3").create_bucket(Bucket="keepalive")
    return "keepalive"


def _request(connection: http.client.HTTPConnection, method: str, path: str, **kwargs) -> tuple:
    connection.request(
        method, path, headers={"Authorization": S3_AUTH, **kwargs.pop("headers", {})}, **kwargs
    )
    response = connection.getresponse()
    return response, response.read()


def test_many_requests_share_one_connection(aws: LocalAws, bucket: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", aws.port, timeout=10)
    _request(connection, "PUT", f"/{bucket}/a.txt", body=b"first")
    first_socket = connection.sock
    for body in (b"second", b"third"):
        response, _ = _request(connection, "PUT", f"/{bucket}/a.txt", body=body)
        assert response.status == 200
        assert response.getheader("Connection") != "close"
        assert connection.sock is first_socket, "the server closed the connection"
    response, body = _request(connection, "GET", f"/{bucket}/a.txt")
    assert (response.status, body) == (200, b"third")
    connection.close()


def test_chunked_upload_is_read_whole_and_the_next_request_still_parses(aws: LocalAws, bucket: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", aws.port, timeout=10)
    response, _ = _request(
        connection,
        "PUT",
        f"/{bucket}/chunked.bin",
        body=iter([b"abc", b"defg", b"h" * 5000]),
        encode_chunked=True,
    )
    assert response.status == 200
    response, body = _request(connection, "GET", f"/{bucket}/chunked.bin")
    assert (response.status, body) == (200, b"abcdefg" + b"h" * 5000)
    connection.close()


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    """Everything the server sent up to and including ``marker`` (or until it stopped sending)."""
    received = b""
    while marker not in received:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def test_expect_100_continue_gets_one_interim_answer_then_the_real_one(aws: LocalAws, bucket: str) -> None:
    with socket.create_connection(("127.0.0.1", aws.port), timeout=10) as sock:
        sock.sendall(
            f"PUT /{bucket}/expect.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {S3_AUTH}\r\n"
            "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n".encode()
        )
        assert _read_until(sock, b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        sock.sendall(
            f"HEAD /{bucket}/expect.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {S3_AUTH}\r\n\r\n".encode()
        )
        # Both answers, in order, with nothing between them: a second "100 Continue" would come first.
        answers = _read_until(sock, b"Content-Length: 5\r\n")
        assert answers.startswith(b"HTTP/1.1 200"), answers[:80]
        assert answers.count(b"HTTP/1.1 ") == 2, answers


def test_head_keeps_the_object_length_and_sends_no_body(aws: LocalAws, bucket: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", aws.port, timeout=10)
    _request(connection, "PUT", f"/{bucket}/sized.txt", body=b"x" * 1234)
    response, body = _request(connection, "HEAD", f"/{bucket}/sized.txt")
    assert (response.status, response.getheader("Content-Length"), body) == (200, "1234", b"")
    response, body = _request(connection, "GET", f"/{bucket}/sized.txt")  # nothing left over on the wire
    assert (response.status, len(body)) == (200, 1234)
    connection.close()


def test_a_client_asking_to_close_gets_its_connection_closed(aws: LocalAws, bucket: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", aws.port, timeout=10)
    response, _ = _request(connection, "GET", f"/{bucket}", headers={"Connection": "close"})
    assert response.status == 200
    assert response.getheader("Connection") == "close"
    connection.close()
