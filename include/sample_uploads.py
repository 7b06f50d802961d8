"""Sample uploads for the S3-upload pipeline: images of assorted formats and sizes, plus bad files.

The same arguments (count, seed, largest side) give the same files, byte for byte, so a demo or a
test knows what it uploaded.

Intact images cycle through JPEG, PNG, GIF, WEBP and BMP at sizes from ~10 px to ~2000 px (the demo's
``image_resize`` rejects BMP as an unsupported format: a valid file it does not handle); the bad
ones are what a real upload bucket receives sooner or later: a zero-byte object, a truncated JPEG,
a text file named ``.jpg`` and a decompression bomb (a tiny PNG whose header claims 40,000 x
40,000 pixels). Key names include spaces, unicode and ``+`` (S3 events encode those with
``quote_plus``, so a consumer that forgets to decode them looks for the wrong key).

Usage (AWS_ENDPOINT_URL etc. set, or ``--aws-conn-id``)::

    .venv/bin/python include/sample_uploads.py --count 20 --prefix demo
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import struct
import sys
import zlib
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

UPLOADS_BUCKET = "uploads"
UPLOAD_PREFIX = "incoming/"
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp", "BMP": "bmp"}
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}
CONTENT_TYPES["BMP"] = "image/bmp"
# Names a careless consumer mangles: spaces ("+" in the event), unicode (%-escapes), a literal "+".
AWKWARD_NAMES = ("summer holiday", "café ünïcødé 写真", "a+b=c", "100% done & more")
BOMB_SIDE = 40_000


@dataclass(frozen=True)
class Sample:
    """One file to upload: its name under the prefix, bytes, content type and what it is."""

    name: str
    data: bytes
    content_type: str
    image_format: str | None  # the real format, None when the file is no image at all
    width: int | None
    height: int | None
    defect: str | None = None  # None for an intact image; else empty | truncated | not_an_image | bomb

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "bytes": len(self.data),
            "format": self.image_format,
            "width": self.width,
            "height": self.height,
            "defect": self.defect,
        }


def make_samples(count: int, seed: int = 7, max_side: int = 2000, bad: bool = True) -> list[Sample]:
    """``count`` intact images (every format in turn, random sizes up to ``max_side``) plus the bad files."""
    rng = random.Random(seed)
    samples = [_image_sample(index, FORMATS[index % len(FORMATS)], rng, max_side) for index in range(count)]
    return samples + (_bad_samples(rng) if bad else [])


def upload_samples(
    s3: Any, samples: list[Sample], prefix: str, bucket: str = UPLOADS_BUCKET
) -> list[dict[str, Any]]:
    """Put each sample at ``incoming/<prefix>/<name>``; returns what was uploaded (key, etag, kind)."""
    folder = f"{UPLOAD_PREFIX}{prefix.strip('/')}/" if prefix.strip("/") else UPLOAD_PREFIX
    uploaded = []
    for sample in samples:
        key = folder + sample.name
        response = s3.put_object(Bucket=bucket, Key=key, Body=sample.data, ContentType=sample.content_type)
        uploaded.append(
            {"bucket": bucket, "key": key, "etag": response["ETag"].strip('"'), **sample.describe()}
        )
    return uploaded


def _image_sample(index: int, image_format: str, rng: random.Random, max_side: int) -> Sample:
    width, height = _size(rng, max_side)
    data = _encode(_picture(width, height, rng), image_format)
    stem = (
        f"{AWKWARD_NAMES[index % len(AWKWARD_NAMES)]} {index:03d}" if index % 3 == 0 else f"img-{index:03d}"
    )
    name = f"{stem}.{EXTENSIONS[image_format]}"
    return Sample(name, data, CONTENT_TYPES[image_format], image_format, width, height)


def _bad_samples(rng: random.Random) -> list[Sample]:
    jpeg = _encode(_picture(640, 480, rng), "JPEG")
    return [
        Sample("empty file.jpg", b"", "image/jpeg", None, None, None, "empty"),
        Sample("truncated+photo.jpg", jpeg[: len(jpeg) // 2], "image/jpeg", "JPEG", 640, 480, "truncated"),
        Sample(
            "notes é.jpg",
            b"meeting notes, not a photo\n" * 20,
            "image/jpeg",
            None,
            None,
            None,
            "not_an_image",
        ),
        Sample(
            "bomb.png", _png_claiming(BOMB_SIDE, BOMB_SIDE), "image/png", "PNG", BOMB_SIDE, BOMB_SIDE, "bomb"
        ),
    ]


def _size(rng: random.Random, max_side: int) -> tuple[int, int]:
    """Mostly small and medium images, now and then one near ``max_side``; any aspect ratio."""
    low, high = rng.choice([(16, 200), (200, 900), (max_side - 200, max_side)])
    longest = rng.randint(max(16, min(low, max_side)), min(high, max_side))
    shortest = max(8, int(longest * rng.uniform(0.3, 1.0)))
    return (longest, shortest) if rng.random() < 0.5 else (shortest, longest)


def _picture(width: int, height: int, rng: random.Random) -> Image.Image:
    """A gradient with a few shapes: cheap to draw, and compresses like a photo rather than a flat fill."""
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    tint = Image.new("RGB", (width, height), tuple(rng.randint(0, 255) for _ in range(3)))
    image = Image.blend(base, tint, 0.5)
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.randint(0, width - 1), rng.randint(0, height - 1)
        x1, y1 = rng.randint(x0, width), rng.randint(y0, height)
        draw.ellipse((x0, y0, x1, y1), fill=tuple(rng.randint(0, 255) for _ in range(3)))
    return image


def _encode(image: Image.Image, image_format: str) -> bytes:
    buffer = io.BytesIO()
    options = {"quality": 85} if image_format in ("JPEG", "WEBP") else {}
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose IHDR chunk (with a correct CRC) claims ``width`` x ``height``."""
    data = bytearray(_encode(Image.new("L", (1, 1)), "PNG"))
    header = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:33] = header + struct.pack(">I", zlib.crc32(header))
    return bytes(data)


def _s3_client(aws_conn_id: str | None) -> Any:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(client_type="s3", aws_conn_id=aws_conn_id).conn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="intact images to upload (default 20)")
    parser.add_argument("--prefix", default="demo", help="folder under incoming/ (default demo)")
    parser.add_argument("--seed", type=int, default=7, help="same seed, same files (default 7)")
    parser.add_argument("--max-side", type=int, default=2000, help="largest image side in pixels")
    parser.add_argument("--no-bad", action="store_true", help="intact images only")
    parser.add_argument("--bucket", default=UPLOADS_BUCKET)
    parser.add_argument("--aws-conn-id", default=None, help="Airflow connection (default: AWS environment)")
    args = parser.parse_args(argv)
    if args.count < 0 or args.max_side < 16:
        parser.error("--count must be >= 0 and --max-side >= 16")
    samples = make_samples(args.count, args.seed, args.max_side, bad=not args.no_bad)
    with contextlib.redirect_stdout(sys.stderr):  # Airflow logs to stdout: keep stdout for the list
        s3 = _s3_client(args.aws_conn_id)
    for upload in upload_samples(s3, samples, args.prefix, args.bucket):
        print(json.dumps(upload, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
