"""QuPath GeoJSON (:mod:`mmcyclic.wsi.qupath`): every shape QuPath writes in, detections out."""
import gzip
import json

import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping
from wsi_helpers import QuPathImportError, qupath_import

from mmcyclic.wsi.qupath import (detection_feature, read_qupath_objects, snap_to_qupath_grid,
                                 write_feature_collection)

SQUARE = [[[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]]]


def feature(geometry, **properties):
    return {'type': 'Feature', 'id': 'a0b1c2d3-0000-4000-8000-000000000000',
            'geometry': geometry, 'properties': properties}


def polygon(x=0, y=0, side=100):
    return {'type': 'Polygon', 'coordinates': [[[x, y], [x + side, y], [x + side, y + side],
                                                [x, y + side], [x, y]]]}


def test_every_top_level_shape_and_classification_form(tmp_path):
    """FeatureCollection / array / Feature / geometry; class as string, {name}, {names}, legacy."""
    with_hole = {'type': 'MultiPolygon', 'coordinates': [
        [[[0, 0], [50, 0], [50, 50], [0, 50], [0, 0]],
         [[10, 10], [10, 20], [20, 20], [20, 10], [10, 10]]],
        [[[60, 60], [70, 60], [70, 70], [60, 70], [60, 60]]]]}
    features = [
        feature(polygon(), objectType='annotation', classification='Tumor', isLocked=True),
        feature(dict(polygon(200), plane={'c': -1, 'z': 0, 't': 0}), objectType='annotation',
                classification={'name': 'Stroma', 'color': [0, 200, 0]}),
        feature(with_hole, objectType='annotation',
                classification={'names': ['Tumor', 'Positive'], 'color': [200, 0, 0]}),
        feature(polygon(400), object_type='annotation',  # QuPath 0.2/0.3 key
                classification={'name': 'Tumor', 'colorRGB': -3670016}),
        feature(polygon(500, side=10), objectType='detection', classification='Nucleus'),
        feature(polygon(600, side=10), objectType='cell'),
        feature(polygon(700), objectType='annotation'),  # unclassified
        feature({'type': 'Point', 'coordinates': [5, 5]}, objectType='annotation',
                classification='Tumor'),
        feature({'type': 'Polygon', 'coordinates': [[[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]]},
                objectType='annotation', classification='Tumor'),  # bow tie: invalid
    ]
    shapes = {'collection.geojson': {'type': 'FeatureCollection', 'features': features},
              'array.json': features, 'one.geojson': features[0], 'bare.geojson': polygon()}
    for name, content in shapes.items():
        (tmp_path / name).write_text(json.dumps(content))
    with gzip.open(tmp_path / 'collection.geojson.gz', 'wt') as handle:
        json.dump(shapes['collection.geojson'], handle)
    for name in ('collection.geojson', 'array.json', 'collection.geojson.gz'):
        objects, report = read_qupath_objects(tmp_path / name)
        kinds = [(o.object_type, o.class_name) for o in objects]
        assert kinds == [('annotation', 'Tumor'), ('annotation', 'Stroma'),
                         ('annotation', 'Tumor: Positive'), ('annotation', 'Tumor'),
                         ('detection', 'Nucleus'), ('cell', None), ('annotation', None),
                         ('annotation', 'Tumor')]
        assert objects[2].geometry.area == 50 * 50 - 10 * 10 + 10 * 10
        assert report.skipped == {'not an area (Point)': 1} and report.repaired == 1
        assert objects[-1].geometry.is_valid and objects[-1].geometry.area == pytest.approx(50)
    objects, _ = read_qupath_objects(tmp_path / 'one.geojson')
    assert [(o.object_type, o.class_name) for o in objects] == [('annotation', 'Tumor')]
    objects, _ = read_qupath_objects(tmp_path / 'bare.geojson')
    assert [(o.object_type, o.class_name) for o in objects] == [('annotation', None)]


def test_snapping_makes_polygons_valid_on_the_qupath_grid():
    # Two rings 0.004 px apart: on the 0.01 grid they would touch along an edge.
    thin = Polygon([(0, 0), (10, 0), (10, 10), (0, 10)],
                   [[(1, 1), (9.996, 1), (9.996, 9), (1, 9)]])
    snapped, _ = snap_to_qupath_grid(thin)
    assert snapped.is_valid and shapely.equals(shapely.set_precision(snapped, 0.01), snapped)
    bow_tie = Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])
    snapped, repaired = snap_to_qupath_grid(bow_tie)
    assert repaired and snapped.is_valid and snapped.area == pytest.approx(50)
    assert snap_to_qupath_grid(Polygon([(0, 0), (0.001, 0), (0, 0.001)]))[0] is None


def test_written_detections_pass_qupaths_import_rules(tmp_path):
    geometries = [Polygon([(0.5, 0.5), (10.5, 0.5), (10.5, 8.5), (0.5, 8.5)]),
                  MultiPolygon([Polygon([(20, 20), (25, 20), (25, 25)]),
                                Polygon([(30, 30), (35, 30), (35, 35)])])]
    features = [detection_feature(snap_to_qupath_grid(g)[0], 'Nucleus', (0, 200, 0),
                                  {'Score': 0.9, 'Area µm^2': 3.5}) for g in geometries]
    path = tmp_path / 'nuclei.geojson.gz'
    assert write_feature_collection(path, iter(features), {'mmcyclic': {'slide': 's.svs'}}) == 2
    imported = qupath_import(path)
    assert [(t, c) for t, c, _ in imported] == [('detection', 'Nucleus')] * 2
    assert [g.area for *_, g in imported] == pytest.approx([80, 25])
    data = json.loads(gzip.decompress(path.read_bytes()))
    assert data['mmcyclic'] == {'slide': 's.svs'} and data['type'] == 'FeatureCollection'
    first = path.read_bytes()
    write_feature_collection(path, iter(features), {'mmcyclic': {'slide': 's.svs'}})
    assert path.read_bytes() == first  # no time stamp in the gzip header
    with pytest.raises(ValueError):
        write_feature_collection(tmp_path / 'nan.geojson.gz', [detection_feature(
            geometries[0], 'Nucleus', (0, 200, 0), {'Score': float('nan')})])
    assert not (tmp_path / 'nan.geojson.gz').exists()  # atomic: nothing half-written


def test_the_import_rules_catch_what_qupath_refuses(tmp_path):
    """The port of QuPath's reader used above is not a rubber stamp."""
    cases = {
        'nan': json.dumps(feature(polygon(), objectType='detection',
                                  measurements=[{'name': 'Score', 'value': float('nan')}])),
        'no_color': json.dumps(feature(polygon(), objectType='detection',
                                       classification={'name': 'Nucleus'})),
        'bow_tie': json.dumps(feature(mapping(Polygon([(0, 0), (10, 10), (10, 0), (0, 10)])),
                                      objectType='detection')),
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(QuPathImportError):
            qupath_import(tmp_path / name)
    top_level = dict(feature(polygon()), objectType='detection')
    (tmp_path / 'top_level').write_text(json.dumps(top_level))
    assert qupath_import(tmp_path / 'top_level')[0][0] == 'annotation'  # TIAToolbox's mistake
