"""image_resize: the image logic on generated images, and the packaged handler against S3 (moto)."""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from PIL import Image

from lambdapipe.packaging import load_manifest, load_test_events
from tests.support.shipped_functions import FUNCTIONS_DIR, Invoke, import_function_modules

MAX_SIDE = 256
MAX_PIXELS = 1_000_000


def encode(image: Image.Image, image_format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def photo(width: int = 800, height: int = 600, image_format: str = "JPEG", mode: str = "RGB") -> bytes:
    image = Image.linear_gradient("L").resize((width, height)).convert(mode)
    return encode(image, image_format)


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height``: a decompression bomb's signature."""
    data = bytearray(photo(1, 1, "PNG"))
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:33] = header + struct.pack(">I", zlib.crc32(header))
    return bytes(data)


@pytest.fixture(scope="module")
def imaging() -> ModuleType:
    (module,) = import_function_modules("image_resize", "imaging")
    return module


@pytest.fixture
def resize(imaging: ModuleType) -> Iterator[Callable[[bytes], Any]]:
    default_limit = Image.MAX_IMAGE_PIXELS
    yield lambda data: imaging.resize_image(data, MAX_SIDE, MAX_PIXELS)
    Image.MAX_IMAGE_PIXELS = default_limit  # resize_image sets Pillow's process-wide limit


@pytest.mark.parametrize(
    ("image_format", "mode", "content_type"),
    [
        ("JPEG", "RGB", "image/jpeg"),
        ("PNG", "RGBA", "image/png"),
        ("GIF", "P", "image/gif"),
        ("WEBP", "RGB", "image/webp"),
    ],
)
def test_image_is_fitted_into_max_side_keeping_format_and_aspect(
    resize: Callable[[bytes], Any], image_format: str, mode: str, content_type: str
) -> None:
    resized = resize(photo(800, 600, image_format, mode))

    assert (resized.format, resized.content_type) == (image_format, content_type)
    assert (resized.width, resized.height, resized.original_width, resized.original_height) == (
        256,
        192,
        800,
        600,
    )
    with Image.open(io.BytesIO(resized.data)) as output:
        assert (output.format, output.size) == (image_format, (256, 192))


def test_small_image_is_not_enlarged(resize: Callable[[bytes], Any]) -> None:
    resized = resize(photo(100, 40))

    assert (resized.width, resized.height) == (100, 40)


def test_exif_orientation_is_applied(resize: Callable[[bytes], Any]) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees: portrait
    data = encode(Image.linear_gradient("L").resize((600, 200)).convert("RGB"), "JPEG", exif=exif)

    resized = resize(data)

    assert (resized.width, resized.height) == (85, 256)


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (40, 40), color) for color in ("red", "blue")]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


def png_with_corrupt_pixel_data() -> bytes:
    data = photo(64, 64, "PNG")
    start = data.index(b"IDAT") + 8
    return data[:start] + bytes(byte ^ 0xFF for byte in data[start : start + 32]) + data[start + 32 :]


BAD_INPUTS = {
    "zero-byte file": (lambda: b"", "empty object (0 bytes)"),
    "text named .jpg": (lambda: b"this is not a JPEG\n" * 20, "not an image"),
    "truncated JPEG": (lambda: photo(800, 600)[:2000], "truncated or corrupt image"),
    "PNG with corrupt pixel data": (png_with_corrupt_pixel_data, "truncated or corrupt image"),
    "bomb above twice the limit": (lambda: encode(Image.new("1", (1500, 1500)), "PNG"), "decompression bomb"),
    "bomb between one and two limits": (
        lambda: encode(Image.new("1", (1100, 1000)), "PNG"),
        "decompression bomb",
    ),
    "bomb by a lying header": (lambda: png_claiming_size(100_000, 100_000), "decompression bomb"),
    "BMP": (lambda: photo(64, 64, "BMP"), "unsupported format BMP"),
    "TIFF": (lambda: photo(64, 64, "TIFF"), "unsupported format TIFF"),
    "animated GIF": (animated_gif, "animated GIF images are not supported"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_rejected_with_a_reason(
    imaging: ModuleType, resize: Callable[[bytes], Any], case: str
) -> None:
    make, reason = BAD_INPUTS[case]

    with pytest.raises(imaging.RejectedImage, match=re.escape(reason)):
        resize(make())


BUCKET = "uploads"


def s3_put_event(*keys: str) -> dict[str, Any]:
    """An S3 notification as S3 sends it: keys URL-encoded with quote_plus."""
    records = [
        {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": BUCKET}, "object": {"key": quote_plus(key)}},
        }
        for key in keys
    ]
    return {"Records": records}


@pytest.fixture
def s3(local_aws_endpoint: str) -> Iterator[Any]:
    client = boto3.client(
        "s3",
        endpoint_url=local_aws_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def test_packaged_handler_resizes_s3_objects_and_rejects_bad_ones(
    invoke: Invoke, s3: Any, local_aws_endpoint: str
) -> None:
    uploads = {
        "uploads/my cat+photo.jpg": photo(1024, 768),
        "uploads/diagram.png": photo(300, 600, "PNG", "RGBA"),
        "uploads/empty.jpg": b"",
        "uploads/fake.jpg": b"<html>not an image</html>",
        "uploads/truncated.jpg": photo(1024, 768)[:3000],
        "uploads/bomb.png": png_claiming_size(100_000, 100_000),
    }
    for key, body in uploads.items():
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    keys = list(uploads)
    batch = {
        "items": [{"bucket": BUCKET, "key": key} for key in keys[2:]]
        + [{"bucket": BUCKET, "key": "uploads/gone.jpg"}]
    }

    run = invoke(
        "image_resize", [s3_put_event(*keys[:2]), batch], env={"AWS_ENDPOINT_URL": local_aws_endpoint}
    )

    s3_result, batch_result = run.results
    assert [(item["key"], item["status"], item.get("output_key")) for item in s3_result["results"]] == [
        ("uploads/my cat+photo.jpg", "resized", "resized/uploads/my cat+photo.jpg"),
        ("uploads/diagram.png", "resized", "resized/uploads/diagram.png"),
    ]
    assert [
        (item["key"], item["status"], item["reason"].split(":")[0]) for item in batch_result["results"]
    ] == [
        ("uploads/empty.jpg", "rejected", "empty object (0 bytes)"),
        ("uploads/fake.jpg", "rejected", "not an image, or in a format Pillow cannot read"),
        ("uploads/truncated.jpg", "rejected", "truncated or corrupt image"),
        ("uploads/bomb.png", "rejected", "image too large (decompression bomb guard)"),
        ("uploads/gone.jpg", "rejected", "object not found (NoSuchKey)"),
    ]
    assert batch_result["summary"] == {"rejected": 5}
    jpeg = s3.get_object(Bucket=BUCKET, Key="resized/uploads/my cat+photo.jpg")
    png = s3.get_object(Bucket=BUCKET, Key="resized/uploads/diagram.png")
    assert (jpeg["ContentType"], png["ContentType"]) == ("image/jpeg", "image/png")
    assert Image.open(io.BytesIO(jpeg["Body"].read())).size == (256, 192)
    assert Image.open(io.BytesIO(png["Body"].read())).size == (128, 256)
    assert run.peak_rss_mb < load_manifest(FUNCTIONS_DIR / "image_resize").memory


def test_an_object_the_function_cannot_read_fails_alone_with_the_s3_error_and_its_neighbours_are_resized(
    invoke: Invoke, s3: Any, local_aws_endpoint: str
) -> None:
    s3.put_object(Bucket=BUCKET, Key="uploads/before.jpg", Body=photo(400, 300))
    s3.put_object(Bucket=BUCKET, Key="uploads/archived.jpg", Body=photo(400, 300), StorageClass="GLACIER")
    s3.put_object(Bucket=BUCKET, Key="uploads/after.png", Body=photo(300, 400, "PNG"))
    keys = ["uploads/before.jpg", "uploads/archived.jpg", "uploads/after.png"]

    run = invoke(
        "image_resize",
        [{"items": [{"bucket": BUCKET, "key": key} for key in keys]}],
        env={"AWS_ENDPOINT_URL": local_aws_endpoint},
    )

    (result,) = run.results
    assert [(item["key"], item["status"]) for item in result["results"]] == [
        ("uploads/before.jpg", "resized"),
        ("uploads/archived.jpg", "failed"),
        ("uploads/after.png", "resized"),
    ]
    assert result["results"][1]["reason"].startswith(
        "cannot read the object: S3 GetObject InvalidObjectState"
    )
    assert result["summary"] == {"failed": 1, "resized": 2}


def test_packaged_handler_answers_every_saved_event_without_failing(
    invoke: Invoke, local_aws_endpoint: str
) -> None:
    events = load_test_events(FUNCTIONS_DIR / "image_resize")

    run = invoke("image_resize", list(events.values()), env={"AWS_ENDPOINT_URL": local_aws_endpoint})

    results = {
        name: [(item["status"], item["reason"]) for item in result["results"]]
        for name, result in zip(events, run.results, strict=True)
    }
    assert results == {
        "already-resized": [("skipped", "already under resized/")],
        "batch-items": [
            ("rejected", "object not found (NoSuchBucket)"),
            ("skipped", "already under resized/"),
            ("rejected", "bucket and key must be non-empty strings"),
            (
                "rejected",
                "an item must be an object with bucket and key, got 's3://lambdapipe-uploads/uploads/b.jpg'",
            ),
        ],
        "explicit-object": [("rejected", "object not found (NoSuchBucket)")],
        "s3-delete": [("skipped", "event ObjectRemoved:Delete creates no object")],
        "s3-put": [("rejected", "object not found (NoSuchBucket)")],
    }


def test_packaged_handler_refuses_an_event_of_unknown_shape(invoke: Invoke) -> None:
    run = invoke("image_resize", [{"detail": {}}])

    assert run.outcomes[0]["error"]["errorType"] == "ValueError"
