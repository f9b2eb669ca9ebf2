"""Reading images window by window (:func:`mmcyclic.apis.image_sources.open_image_source`)."""
import os

import numpy as np
import pytest
import tifffile

from mmcyclic.apis.image_sources import ArraySource, TiffSource, open_image_source
from mmcyclic.apis.tiled_inference import segment_tiled
from mmcyclic.datasets.io import ImageReadError, ImageTooLargeError, read_image, write_image

from apis_helpers import GroundTruthDetector, max_extent

WINDOWS = [(0, 0, 256, 256), (100, 37, 357, 300), (384, 300, 512, 512), (0, 0, 512, 512)]


@pytest.fixture(scope='module')
def rgb() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8)


def _check_windows(path, expected, lazy=True):
    with open_image_source(path) as source:
        assert source.lazy is lazy
        assert source.shape == expected.shape[:2]
        for y0, x0, y1, x1 in WINDOWS:
            np.testing.assert_array_equal(source.read((y0, x0, y1, x1)), expected[y0:y1, x0:x1])


def test_real_monuseg_tiff_is_read_strip_by_strip(monuseg_image_path):
    """The MoNuSeg TIFFs are LZW with 2-row strips: decoded per window."""
    with open_image_source(monuseg_image_path) as source:
        assert isinstance(source, TiffSource) and not source.page_reader.memory_mapped
    _check_windows(monuseg_image_path, read_image(monuseg_image_path))


@pytest.mark.parametrize('options', [
    dict(tile=(128, 128), compression='zlib'),
    dict(tile=(96, 160), compression='lzw', bigtiff=True),
    dict(rowsperstrip=16, compression='zlib', planarconfig='separate'),
    dict(tile=(64, 64), planarconfig='separate'),
])
def test_tiled_and_striped_tiffs_are_read_lazily(tmp_path, rgb, options):
    path = tmp_path / 'image.tif'
    tifffile.imwrite(path, np.moveaxis(rgb, -1, 0) if options.get('planarconfig') else rgb,
                     photometric='rgb', **options)
    _check_windows(path, rgb)


def test_jpeg_tiled_tiff_matches_tifffile(tmp_path, rgb):
    path = tmp_path / 'jpeg.tif'
    tifffile.imwrite(path, rgb, photometric='rgb', tile=(128, 128), compression='jpeg')
    _check_windows(path, tifffile.imread(path))


def test_uncompressed_tiff_is_memory_mapped(tmp_path, rgb):
    path = tmp_path / 'raw.tif'
    tifffile.imwrite(path, rgb, photometric='rgb')
    with open_image_source(path) as source:
        assert source.page_reader.memory_mapped
    _check_windows(path, rgb)


def test_grey_tiff_becomes_rgb(tmp_path, rgb):
    path = tmp_path / 'grey.tif'
    tifffile.imwrite(path, rgb[..., 1], tile=(64, 64), compression='zlib')
    _check_windows(path, np.repeat(rgb[..., 1:2], 3, axis=2))


def test_png_and_16_bit_tiff_are_read_whole(tmp_path, rgb):
    write_image(tmp_path / 'image.png', rgb)
    _check_windows(tmp_path / 'image.png', rgb, lazy=False)
    tifffile.imwrite(tmp_path / 'small16.tif', rgb.astype(np.uint16), photometric='rgb')
    _check_windows(tmp_path / 'small16.tif', rgb, lazy=False)  # values fit 8 bits


def test_truncated_tiff_is_reported_at_open(tmp_path, rgb):
    path = tmp_path / 'cut.tif'
    tifffile.imwrite(path, rgb, photometric='rgb', tile=(128, 128), compression='zlib')
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ImageReadError, match=r'cut\.tif.*truncated'):
        open_image_source(path)


def test_missing_and_non_image_files(tmp_path):
    with pytest.raises(ImageReadError, match='no such file'):
        open_image_source(tmp_path / 'absent.tif')
    (tmp_path / 'fake.png').write_bytes(b'not a png')
    with pytest.raises(ImageReadError, match='fake.png'):
        open_image_source(tmp_path / 'fake.png')
    (tmp_path / 'fake.tif').write_bytes(b'II*\x00 not a tiff')
    with pytest.raises(ImageReadError, match='fake.tif'):
        open_image_source(tmp_path / 'fake.tif')


def test_arrays_are_normalised_to_rgb():
    grey = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert ArraySource(grey).read((0, 0, 3, 4)).shape == (3, 4, 3)
    assert ArraySource(np.zeros((3, 4, 4), np.uint8)).read((0, 0, 3, 4)).shape == (3, 4, 3)
    with pytest.raises(ImageReadError, match='uint8'):
        ArraySource(np.zeros((3, 4, 3), np.float32))


def test_tiled_tiff_path_gives_the_same_result_as_the_array(tmp_path, monuseg_crop):
    image, gt = monuseg_crop
    path = tmp_path / 'crop.tif'
    tifffile.imwrite(path, image, photometric='rgb', tile=(64, 64), compression='zlib')
    with open_image_source(path) as source:
        from_file = segment_tiled(source, GroundTruthDetector(gt), 192, max_extent(gt))
    from_array = segment_tiled(ArraySource(image), GroundTruthDetector(gt), 192, max_extent(gt))
    np.testing.assert_array_equal(from_file[0], from_array[0])
    np.testing.assert_array_equal(from_file[1], from_array[1])


def test_a_header_claiming_a_huge_image_is_refused_before_reading(tmp_path):
    """Issue 27 item 6: a TIFF header claiming 100000² was refused only when a 28 GB
    allocation failed, and the message blamed truncation."""
    tifffile.imwrite(tmp_path / 'huge.tif', shape=(100000, 100000, 3), dtype='uint8',
                     photometric='rgb')  # a sparse file: the header, no pixel written
    os.truncate(tmp_path / 'huge.tif', 4096)  # and the data cut off
    with pytest.raises(ImageTooLargeError) as caught:
        open_image_source(tmp_path / 'huge.tif', max_pixels=100_000_000)
    message = str(caught.value)
    assert 'huge.tif: 100000 x 100000 pixels (10000 Mpixels) is over the limit of 100 Mpixels' \
        in message and 'label map alone needs 37.3 GiB' in message
    with pytest.raises(ImageTooLargeError):
        open_image_source(np.zeros((20, 30, 3), np.uint8), max_pixels=599)
    open_image_source(np.zeros((20, 30, 3), np.uint8), max_pixels=600).close()


def test_running_out_of_memory_names_the_declared_size(tmp_path, monkeypatch):
    tifffile.imwrite(tmp_path / 'big.tif', np.zeros((40, 50), np.uint16))

    def no_memory(path):
        raise MemoryError

    monkeypatch.setattr(tifffile, 'imread', no_memory)
    with pytest.raises(ImageReadError, match='big.tif: its header declares 50 x 40 pixels, more '
                                             'than this machine can hold in memory'):
        read_image(tmp_path / 'big.tif')
