"""The JPEG frame-header reader against PIL, and the OpenCV path it opens
against PIL's pixels."""
import io

import numpy as np
import pytest
from PIL import Image

from pixpretrain.datasets.transforms import (LoadImageFromFile,
                                             LoadRandomResizedCrop,
                                             decode_rgb_jpeg, jpeg_frame,
                                             read_rgb, rgb_jpeg_size)
from pixpretrain.utils.errors import UnreadableImageError


def _picture(size=(61, 37), mode='RGB') -> Image.Image:
    w, h = size
    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (max(2, h // 8), max(2, w // 8), 3),
                         dtype=np.uint8)
    return Image.fromarray(small).resize((w, h), Image.BICUBIC).convert(mode)


def _jpeg(mode='RGB', size=(61, 37), **save) -> bytes:
    buf = io.BytesIO()
    _picture(size, mode).save(buf, 'JPEG', quality=90, **save)
    return buf.getvalue()


def _with_fill_bytes(data: bytes) -> bytes:
    # Any marker may be preceded by fill bytes (0xFF), here the first APPn.
    return data[:2] + b'\xff\xff\xff' + data[2:]


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation "rotate 90": ignored, as by PIL's loader
    exif[0x010E] = 'a description long enough to need its own segment' * 4
    return exif.tobytes()


THREE_COMPONENT = {
    'baseline 4:2:0': lambda: _jpeg(),
    'baseline 4:4:4': lambda: _jpeg(subsampling=0),
    'progressive': lambda: _jpeg(progressive=True),
    'optimised huffman': lambda: _jpeg(optimize=True),
    'exif and icc segments': lambda: _jpeg(
        exif=_exif(), icc_profile=b'\0' * 3000),
    'restart markers': lambda: _jpeg(restart_marker_blocks=2),
    'fill bytes': lambda: _with_fill_bytes(_jpeg()),
    'odd size': lambda: _jpeg(size=(1, 17)),
}


@pytest.mark.parametrize('name', list(THREE_COMPONENT))
def test_frame_header_matches_pil(tmp_path, name):
    data = THREE_COMPONENT[name]()
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == 'RGB'
        width, height = image.size
    assert jpeg_frame(data) == (height, width, 3, 8)
    assert rgb_jpeg_size(data) == (height, width)
    # and the OpenCV decode it leads to (not a PIL fallback) has PIL's pixels
    assert decode_rgb_jpeg(data, (height, width)) is not None
    path = tmp_path / 'a.jpg'
    path.write_bytes(data)
    with Image.open(path) as image:
        expected = np.asarray(image.convert('RGB'))
    np.testing.assert_array_equal(read_rgb(str(path)), expected)


@pytest.mark.parametrize('mode, components', [('L', 1), ('CMYK', 4)])
def test_other_colour_modes_are_left_to_pil(tmp_path, mode, components):
    data = _jpeg(mode)
    height, width = 37, 61
    assert jpeg_frame(data) == (height, width, components, 8)
    assert rgb_jpeg_size(data) is None
    path = tmp_path / 'a.jpg'
    path.write_bytes(data)
    with Image.open(path) as image:
        expected = np.asarray(image.convert('RGB'))
    np.testing.assert_array_equal(read_rgb(str(path)), expected)


def test_a_frame_without_its_height_is_left_to_pil():
    data = bytearray(_jpeg())
    sof = data.index(b'\xff\xc0')
    data[sof + 5:sof + 7] = b'\0\0'  # height 0: given later by a DNL marker
    assert jpeg_frame(bytes(data))[0] == 0
    assert rgb_jpeg_size(bytes(data)) is None


@pytest.mark.parametrize('data', [
    b'', b'\xff', b'\xff\xd8', b'not a jpeg at all',
    b'\x89PNG\r\n\x1a\n' + b'\0' * 40,
    b'\xff\xd8\xff\xe0\x00',               # cut inside a segment's length
    b'\xff\xd8\xff\xe0\x00\x10' + b'\0' * 3,  # segment runs past the end
    b'\xff\xd8\xff\xda\x00\x08' + b'\0' * 20,  # scan before any frame
    b'\xff\xd8\x00\x00\x00\x00',             # garbage where a marker is due
])
def test_not_a_jpeg_header_gives_none(data):
    assert jpeg_frame(data) is None
    assert rgb_jpeg_size(data) is None


def test_truncated_three_component_jpeg_is_still_an_error(tmp_path):
    data = _jpeg(size=(200, 150))
    assert rgb_jpeg_size(data[:len(data) // 2]) == (150, 200)
    path = tmp_path / 'cut.jpg'
    path.write_bytes(data[:len(data) // 2])
    for load in (LoadImageFromFile(), LoadRandomResizedCrop(32)):
        with pytest.raises(UnreadableImageError,
                           match=f"^unreadable image '{path}': "):
            load(dict(img_path=str(path)))


def test_a_decompression_bomb_is_left_to_pil(tmp_path, monkeypatch):
    data = _jpeg(size=(61, 37))
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 61 * 37 // 2 - 1)
    assert jpeg_frame(data) == (37, 61, 3, 8)
    assert rgb_jpeg_size(data) is None  # above twice the limit: PIL's call
    path = tmp_path / 'bomb.jpg'
    path.write_bytes(data)
    with pytest.raises(UnreadableImageError, match='decompression bomb'):
        read_rgb(str(path))
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 61 * 37 // 2 + 1)
    assert rgb_jpeg_size(data) == (37, 61)
