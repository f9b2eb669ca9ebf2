"""Whole-image relevance from Hann-blended windows.

What is tested: (1) for a per-pixel "relevance" the blended map equals the
single-pass map exactly everywhere (window placement, padding, blending
weights and normalisation are right); (2) for a translation-equivariant local
filter (a 5x5 box filter, i.e. a conv net with a 5 px receptive field) it
equals the single-pass map wherever every covering window sees the pixel's
whole 5x5 neighbourhood, and stays within the filter's edge error elsewhere
(no seams); (3) a resize round trip with ``image_scale``.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmcyclic.relevance.window_blending import hann_window, tiled_relevance, window_origins


def _image(height, width, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _pointwise(tiles):
    return tiles[:, 0] * 2.0 - tiles[:, 2]


def _box(tiles):
    return F.avg_pool2d(tiles[:, 1:2], 5, stride=1, padding=2, count_include_pad=False)[:, 0]


def _single_pass(image, fn):
    return fn(torch.from_numpy(image).permute(2, 0, 1)[None].float())[0].numpy()


@pytest.mark.parametrize('shape', [(100, 130), (64, 64), (40, 90), (17, 23)])
def test_pointwise_relevance_is_reproduced_exactly(shape):
    image = _image(*shape)
    tiled = tiled_relevance(image, _pointwise, tile_size=48, min_overlap=16, batch_size=3)
    np.testing.assert_allclose(tiled, _single_pass(image, _pointwise), rtol=1e-5, atol=1e-3)


def test_local_filter_equals_single_pass_in_the_interior():
    image = _image(150, 170)
    tile, radius = 64, 2
    tiled = tiled_relevance(image, _box, tile_size=tile, min_overlap=24)
    reference = _single_pass(image, _box)
    # A pixel is "interior" when every window covering it contains its 5x5
    # neighbourhood (or the neighbourhood is cut by the image border anyway).
    exact = np.ones(image.shape[:2], bool)
    for y0, x0 in window_origins(150, 170, tile, 24):
        inner = np.zeros_like(exact)
        y_lo, x_lo = (y0 + radius if y0 else 0), (x0 + radius if x0 else 0)
        y_hi = y0 + tile - radius if y0 + tile < 150 else 150
        x_hi = x0 + tile - radius if x0 + tile < 170 else 170
        inner[y_lo:y_hi, x_lo:x_hi] = True
        covered = np.zeros_like(exact)
        covered[y0:y0 + tile, x0:x0 + tile] = True
        exact &= ~covered | inner
    assert exact.mean() > 0.8
    np.testing.assert_allclose(tiled[exact], reference[exact], rtol=1e-5, atol=1e-3)
    # Elsewhere the error comes from window edges only and is weighted down by Hann.
    assert np.abs(tiled - reference).max() < 0.25 * np.abs(reference).max()


def test_image_scale_round_trip():
    image = np.repeat(np.repeat(_image(20, 24), 4, axis=0), 4, axis=1)  # smooth-ish, 80x96
    scaled = tiled_relevance(image, _pointwise, tile_size=48, min_overlap=16, image_scale=2.0)
    assert scaled.shape == image.shape[:2]
    plain = _single_pass(image, _pointwise)
    inner = (slice(8, -8), slice(8, -8))
    assert np.corrcoef(scaled[inner].ravel(), plain[inner].ravel())[0, 1] > 0.95


def test_hann_weights_and_origins():
    w = hann_window(8)
    assert w.min() > 0 and np.allclose(w, w.T) and w.shape == (8, 8)
    assert window_origins(1000, 1000, 224, 64) == [(y, x) for y in (0, 155, 310, 466, 621, 776)
                                                   for x in (0, 155, 310, 466, 621, 776)]
    with pytest.raises(ValueError, match='RGB'):
        tiled_relevance(np.zeros((10, 10)), _pointwise)
