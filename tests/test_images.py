"""Image input: stored pixels, conversions recorded, one typed error per bad-input kind."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from scanner.inputs.images import ImageError, decode_green, load_green
from tests.conftest import textured_image


def encode(image: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_rgb_gives_green_channel_of_stored_grid(rng):
    rgb = textured_image(rng, 60, 90)
    green, info = decode_green(encode(Image.fromarray(rgb), "PNG"))
    assert np.array_equal(green, rgb[..., 1]) and info.conversions == [] and (info.width, info.height) == (90, 60)


def test_exif_orientation_is_not_applied(rng):
    rgb = textured_image(rng, 40, 70)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 on display
    data = encode(Image.fromarray(rgb), "PNG", exif=exif)
    green, _ = decode_green(data)
    assert green.shape == (40, 70) and np.array_equal(green, rgb[..., 1])


def test_grayscale_used_as_is(rng):
    gray = textured_image(rng, 30, 30, channels=1)[..., 0]
    green, info = decode_green(encode(Image.fromarray(gray), "PNG"))
    assert np.array_equal(green, gray) and info.mode == "L" and info.conversions == []


def test_sixteen_bit_is_scaled_not_clipped():
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16).repeat(4, 0)
    green, info = decode_green(encode(Image.fromarray(values), "PNG"))
    assert info.bit_depth == 16 and any("16-bit" in c for c in info.conversions)
    assert green[0].tolist() == [0, 1, 128, 255]


@pytest.mark.parametrize("mode,fmt,expect", [("P", "GIF", "palette"), ("RGBA", "PNG", "alpha"), ("CMYK", "JPEG", "CMYK"), ("LA", "PNG", "alpha")])
def test_conversions_are_recorded(rng, mode, fmt, expect):
    rgb = Image.fromarray(textured_image(rng, 40, 40))
    green, info = decode_green(encode(rgb.convert(mode), fmt))
    assert green.dtype == np.uint8 and green.shape == (40, 40)
    assert info.mode == mode and any(expect in c for c in info.conversions)


def test_animated_uses_first_frame(rng):
    frames = [Image.fromarray(textured_image(rng, 32, 32)).convert("P") for _ in range(3)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    green, info = decode_green(data)
    assert info.frames == 3 and any("first frame of 3" in c for c in info.conversions)
    assert np.array_equal(green, np.asarray(frames[0].convert("RGB"))[..., 1])


def error_code(data: bytes, **kw) -> str:
    with pytest.raises(ImageError) as exc:
        decode_green(data, "x", **kw)
    assert exc.value.message.startswith("x")
    return exc.value.code


def test_bad_inputs_get_their_error_codes(rng, tmp_path):
    jpeg = encode(Image.fromarray(textured_image(rng, 256, 256)), "JPEG", quality=90)
    assert error_code(b"") == "empty"
    assert error_code(b"hello, I am a text file\n" * 10) == "not_an_image"
    assert error_code(jpeg[: len(jpeg) // 2]) == "truncated"
    png = encode(Image.fromarray(textured_image(rng, 64, 64)), "PNG")
    assert error_code(png[:60] + bytes(200) + png[260:]) in ("corrupt", "truncated")
    bomb = encode(Image.new("1", (12000, 12000)), "PNG")
    assert len(bomb) < 1_000_000 and error_code(bomb) == "too_large"
    assert error_code(png, max_pixels=1000) == "too_large"
    with pytest.raises(ImageError) as missing:
        load_green(tmp_path / "nope.jpg")
    assert missing.value.code == "not_found"
    loop = tmp_path / "loop.jpg"
    os.symlink(loop, loop)
    with pytest.raises(ImageError) as looped:
        load_green(loop)
    assert looped.value.code == "unreadable"
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageError) as piped:
        load_green(fifo)
    assert piped.value.code == "unreadable"


def test_jpeg_coded_files_are_known_by_their_container(rng):
    rgb = Image.fromarray(textured_image(rng, 48, 64))
    second = Image.fromarray(textured_image(rng, 48, 64))
    stored = {fmt: decode_green(encode(rgb, fmt, **kw))[1] for fmt, kw in
              (("JPEG", {}), ("MPO", {"save_all": True, "append_images": [second]}), ("PNG", {}), ("TIFF", {}))}
    assert stored["MPO"].format == "MPO" and stored["MPO"].frames == 2  # a camera JPEG with a second view
    assert [fmt for fmt, info in stored.items() if info.stored_as_jpeg] == ["JPEG", "MPO"]
