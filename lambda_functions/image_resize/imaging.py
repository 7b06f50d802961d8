"""Resize one image in memory, or say why it cannot be resized (pure: no AWS calls).

Keeps the source format, applies the EXIF orientation, fits the image inside a square of
``max_side`` pixels keeping its aspect ratio (never enlarging) and drops metadata such as EXIF
GPS tags. Anything that is not a supported, intact, reasonably sized still image raises
:class:`RejectedImage` with a reason for the per-item result.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

SUPPORTED_FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
SAVE_OPTIONS: dict[str, dict[str, int]] = {"JPEG": {"quality": 85}, "WEBP": {"quality": 85}}


class RejectedImage(Exception):
    """The object is not an image this function resizes; ``str(exc)`` is the reason."""


@dataclass(frozen=True)
class ResizedImage:
    data: bytes
    format: str
    content_type: str
    width: int
    height: int
    original_width: int
    original_height: int


def resize_image(data: bytes, max_side: int, max_pixels: int) -> ResizedImage:
    """Resize ``data`` to fit ``max_side``; refuse images above ``max_pixels`` before decoding them."""
    if not data:
        raise RejectedImage("empty object (0 bytes)")
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow reads its decompression-bomb limit from this global
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                return _resize_open_image(image, max_side)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise RejectedImage(f"image too large (decompression bomb guard): {exc}") from None
    except UnidentifiedImageError:
        raise RejectedImage("not an image, or in a format Pillow cannot read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise RejectedImage(f"truncated or corrupt image: {exc}") from None


def _resize_open_image(image: Image.Image, max_side: int) -> ResizedImage:
    source_format = image.format or ""
    if source_format not in SUPPORTED_FORMATS:
        raise RejectedImage(f"unsupported format {source_format}; supported: {', '.join(SUPPORTED_FORMATS)}")
    if getattr(image, "n_frames", 1) > 1:
        raise RejectedImage(f"animated {source_format} images are not supported")
    image.load()  # decodes everything: truncated data fails here, not half-way through saving
    oriented = ImageOps.exif_transpose(image)
    original_width, original_height = oriented.size
    oriented.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    output = io.BytesIO()
    oriented.save(output, format=source_format, **SAVE_OPTIONS.get(source_format, {}))
    return ResizedImage(
        data=output.getvalue(),
        format=source_format,
        content_type=Image.MIME[source_format],
        width=oriented.width,
        height=oriented.height,
        original_width=original_width,
        original_height=original_height,
    )
