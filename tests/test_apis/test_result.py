"""Exports of :class:`mmcyclic.apis.NucleiResult`: GeoJSON for QuPath, COCO, label maps."""
import json

import numpy as np
import pytest
import tifffile
from PIL import Image
from scipy import ndimage
from skimage.draw import disk
from skimage.draw import polygon as fill_polygon

from mmcyclic.apis import NucleiResult
from mmcyclic.datasets.coco_format import annotations_to_label_map

try:
    import shapely.geometry
    import shapely.validation
except ImportError:  # rings are then checked by hand only
    shapely = None


def _rasterise(geometry: dict, shape) -> np.ndarray:
    """Fill a GeoJSON (Multi)Polygon by pixel centres: pixel (r, c) is at (c + 0.5, r + 0.5)."""
    parts = [geometry['coordinates']] if geometry['type'] == 'Polygon' else geometry['coordinates']
    mask = np.zeros(shape, bool)
    for rings in parts:
        for k, ring in enumerate(rings):
            xy = np.asarray(ring)
            rr, cc = fill_polygon(xy[:, 1] - 0.5, xy[:, 0] - 0.5, shape)
            mask[rr, cc] = k == 0  # exterior fills, holes clear
    return mask


def _check_ring(ring, shape):
    assert len(ring) >= 4 and ring[0] == ring[-1], 'ring not closed'
    xy = np.asarray(ring)
    assert xy.min() >= 0 and np.all(xy.max(axis=0) <= (shape[1], shape[0]))


def _check_feature(feature, shape):
    assert feature['type'] == 'Feature'
    geometry = feature['geometry']
    assert geometry['type'] in ('Polygon', 'MultiPolygon')
    parts = [geometry['coordinates']] if geometry['type'] == 'Polygon' else geometry['coordinates']
    for rings in parts:
        for ring in rings:
            _check_ring(ring, shape)
    if shapely is not None:
        shape_ = shapely.geometry.shape(geometry)
        assert shape_.is_valid, shapely.validation.explain_validity(shape_)
    props = feature['properties']
    assert props['objectType'] == 'detection'
    assert props['classification']['name'] == 'Nucleus'
    assert len(props['classification']['color']) == 3
    assert {m['name'] for m in props['measurements']} == {'Label', 'Area px^2', 'Score'}


def test_geojson_is_valid_and_rasterises_back_to_the_label_map(monuseg_crop):
    _, gt = monuseg_crop
    result = NucleiResult.from_label_map(gt, scores=np.linspace(1, 0.5, gt.max()))
    collection = json.loads(json.dumps(result.to_geojson(), allow_nan=False))
    assert collection['type'] == 'FeatureCollection'
    assert len(collection['features']) == gt.max()
    rebuilt = np.zeros_like(gt)
    ious = []
    for feature in collection['features']:
        _check_feature(feature, gt.shape)
        measurements = feature['properties']['measurements']
        label = next(m['value'] for m in measurements if m['name'] == 'Label')
        mask = _rasterise(feature['geometry'], gt.shape)
        truth = gt == label
        ious.append(np.count_nonzero(mask & truth) / np.count_nonzero(mask | truth))
        rebuilt[mask] = label
    assert min(ious) >= 0.95
    # Vertices on pixel-edge midpoints: the round trip is in fact exact.
    np.testing.assert_array_equal(rebuilt, gt)


def test_holes_touching_pixels_and_pieces_give_valid_geometry():
    label_map = np.zeros((40, 60), np.int32)
    rr, cc = disk((20, 20), 12, shape=label_map.shape)
    label_map[rr, cc] = 1
    rr, cc = disk((20, 20), 5, shape=label_map.shape)
    label_map[rr, cc] = 2  # a nucleus inside a hole of nucleus 1
    label_map[5:9, 40:44] = 3
    label_map[12:15, 50:53] = 3  # nucleus 3 in two pieces
    label_map[30, 40] = label_map[31, 41] = label_map[32, 42] = 4  # diagonal pixels only
    label_map[0, 59] = 5  # a single pixel in the image corner
    result = NucleiResult.from_label_map(label_map)
    features = result.to_geojson()['features']
    assert [f['geometry']['type'] for f in features] == [
        'Polygon', 'Polygon', 'MultiPolygon', 'Polygon', 'Polygon']
    assert len(features[0]['geometry']['coordinates']) == 2  # exterior + hole
    for label, feature in enumerate(features, 1):
        _check_feature(feature, label_map.shape)
        np.testing.assert_array_equal(_rasterise(feature['geometry'], label_map.shape),
                                      label_map == label)


def test_rings_wind_as_rfc7946_says():
    label_map = np.zeros((30, 30), np.int32)
    label_map[5:25, 5:25] = 1
    label_map[10:15, 10:15] = 0
    exterior, hole = NucleiResult.from_label_map(label_map).polygons[0][0]

    def signed_area(ring):
        return 0.5 * np.sum(ring[:-1, 0] * ring[1:, 1] - ring[1:, 0] * ring[:-1, 1])

    assert signed_area(exterior) == 20 * 20 - 4 * 0.125  # each corner cut by a half-pixel triangle
    assert signed_area(hole) < 0
    assert len(exterior) == 9  # collinear vertices dropped: 8 corners + closing vertex


def test_measurements(monuseg_crop):
    _, gt = monuseg_crop
    result = NucleiResult.from_label_map(gt)
    ids = np.arange(1, gt.max() + 1)
    np.testing.assert_array_equal(result.areas, ndimage.sum_labels(np.ones_like(gt), gt, ids))
    centres = np.array(ndimage.center_of_mass(np.ones_like(gt), gt, ids))[:, ::-1] + 0.5
    np.testing.assert_allclose(result.centroids, centres)
    assert len(result) == gt.max() and result.to_label_map() is result.label_map


def test_coco_round_trip_keeps_ids_and_scores(monuseg_crop):
    _, gt = monuseg_crop
    scores = np.linspace(0.99, 0.5, gt.max())
    result = NucleiResult.from_label_map(gt, scores)
    coco = json.loads(json.dumps(result.to_coco(file_name='a.tif')))
    assert coco['images'] == [{'id': 1, 'file_name': 'a.tif', 'height': 512, 'width': 512}]
    np.testing.assert_array_equal(annotations_to_label_map(coco['annotations'], 512, 512), gt)
    np.testing.assert_allclose([a['score'] for a in coco['annotations']], scores)


def test_save_writes_every_format(tmp_path):
    label_map = np.zeros((20, 30), np.int32)
    label_map[2:6, 3:9], label_map[10:15, 20:25] = 1, 2
    image = np.full((20, 30, 3), 200, np.uint8)
    result = NucleiResult.from_label_map(label_map, [0.9, 0.7])
    written = result.save(tmp_path, 'x', image=image)
    assert [p.name for p in written] == [
        'x.geojson', 'x_labels.tif', 'x_coco.json', 'x_overlay.png']
    saved = tifffile.imread(tmp_path / 'x_labels.tif')
    assert saved.dtype == np.uint32 and np.array_equal(saved, label_map)
    assert np.asarray(Image.open(tmp_path / 'x_overlay.png')).shape == (20, 30, 3)
    result.save(tmp_path, 'y', ['labels'], label_suffix='.png')
    assert np.array_equal(np.asarray(Image.open(tmp_path / 'y_labels.png')), label_map)
    result.save(tmp_path, 'z', ['labels'], label_suffix='.npy')
    assert np.array_equal(np.load(tmp_path / 'z_labels.npy'), label_map)
    assert not list(tmp_path.glob('.*tmp*'))  # atomic writes leave no temporary files


def test_empty_result_and_bad_inputs(tmp_path):
    empty = NucleiResult.from_label_map(np.zeros((8, 8), np.int32))
    assert empty.to_geojson() == {'type': 'FeatureCollection', 'features': []}
    assert empty.to_coco()['annotations'] == []
    with pytest.raises(ValueError, match='relabel'):
        NucleiResult.from_label_map(np.array([[0, 2]]))
    with pytest.raises(ValueError, match='2 scores for 1'):
        NucleiResult.from_label_map(np.array([[0, 1]]), [0.5, 0.6])
    with pytest.raises(ValueError, match='needs the image'):
        empty.save(tmp_path, 'e', ['overlay'])
    with pytest.raises(ValueError, match='unknown output format'):
        empty.save(tmp_path, 'e', ['shapefile'])


def test_non_finite_scores_are_refused_and_geojson_is_strict_json(tmp_path):
    """Issue 27 item 9: a NaN score was written as `NaN` (invalid JSON)."""
    label_map = np.zeros((8, 8), np.int32)
    label_map[1:3, 1:3], label_map[5:7, 5:7] = 1, 2
    with pytest.raises(ValueError, match=r'1 of 2 scores are not finite .*ids \[2\]'):
        NucleiResult.from_label_map(label_map, [0.9, float('nan')])
    result = NucleiResult.from_label_map(label_map, [0.9, 0.8])
    result.scores[1] = np.inf  # a result assembled by hand
    with pytest.raises(ValueError, match='Out of range float values are not JSON compliant'):
        result.save(tmp_path, 'x', ['geojson'])
    assert not list(tmp_path.iterdir())  # nothing written, not even a temporary file


def test_instances_below_min_area_are_dropped_counted_and_renumbered():
    """Issue 27 item 11: a 1x1 image yielded a 1-pixel "nucleus"."""
    label_map = np.zeros((10, 10), np.int32)
    label_map[0, 0] = 1                # 1 px
    label_map[2:6, 2:6] = 2            # 16 px
    label_map[8, 8:10] = 3             # 2 px
    label_map[7:10, 0:3] = 4           # 9 px
    result = NucleiResult.from_label_map(label_map, [0.9, 0.8, 0.7, 0.6], min_area=9)
    assert result.dropped_below_min_area == 2
    assert result.areas.tolist() == [16, 9] and result.scores.tolist() == [0.8, 0.6]
    assert np.array_equal(result.label_map, np.where(label_map == 2, 1,
                                                     np.where(label_map == 4, 2, 0)))
    one_pixel = NucleiResult.from_label_map(np.ones((1, 1), np.int32), [0.9], min_area=15)
    assert len(one_pixel) == 0 and one_pixel.dropped_below_min_area == 1
    with pytest.raises(ValueError, match='relabel'):  # a missing id is still an error
        NucleiResult.from_label_map(np.array([[0, 2, 2]]), [0.5, 0.6], min_area=2)
