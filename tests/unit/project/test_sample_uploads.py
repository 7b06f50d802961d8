"""The sample upload generator (include/sample_uploads.py): deterministic, and each file is what it claims."""

from __future__ import annotations

import io

import pytest
from PIL import Image, UnidentifiedImageError

from include.sample_uploads import FORMATS, make_samples

IMAGE_RESIZE_MAX_PIXELS = 25_000_000  # image_resize's decompression-bomb guard


def test_the_same_seed_gives_the_same_files_byte_for_byte_and_another_seed_other_files() -> None:
    first, again, other = make_samples(6, seed=3), make_samples(6, seed=3), make_samples(6, seed=4)

    assert [(s.name, s.data) for s in first] == [(s.name, s.data) for s in again]
    assert [s.data for s in first] != [s.data for s in other]


def test_intact_images_cover_every_format_and_really_have_the_format_and_size_they_claim() -> None:
    images = [sample for sample in make_samples(10, seed=5, max_side=600) if sample.defect is None]

    assert sorted({sample.image_format for sample in images}) == sorted(FORMATS)
    for sample in images:
        with Image.open(io.BytesIO(sample.data)) as image:
            image.load()
            assert (image.format, image.size) == (sample.image_format, (sample.width, sample.height))
        assert max(sample.width, sample.height) <= 600


def test_names_include_spaces_plus_signs_and_unicode() -> None:
    names = [sample.name for sample in make_samples(5)]

    assert any(" " in name for name in names)
    assert any("+" in name for name in names)
    assert any(not name.isascii() for name in names)
    assert len(set(names)) == len(names)


def test_each_bad_file_fails_to_decode_the_way_its_defect_says() -> None:
    bad = {sample.defect: sample for sample in make_samples(0)}

    assert sorted(bad) == ["bomb", "empty", "not_an_image", "truncated"]
    assert bad["empty"].data == b""
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(bad["not_an_image"].data))
    assert bad["not_an_image"].name.endswith(".jpg")
    with (
        Image.open(io.BytesIO(bad["truncated"].data)) as truncated,
        pytest.raises(OSError, match="truncated"),
    ):
        truncated.load()
    assert len(bad["bomb"].data) < 1024
    default_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = IMAGE_RESIZE_MAX_PIXELS
    try:
        with pytest.raises(Image.DecompressionBombError):
            Image.open(io.BytesIO(bad["bomb"].data))
    finally:
        Image.MAX_IMAGE_PIXELS = default_limit
