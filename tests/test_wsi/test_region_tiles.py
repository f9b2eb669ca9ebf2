"""QuPath regions -> labelled tiles (:mod:`mmcyclic.wsi.region_tiles`, tools/qupath_tiles.py)."""
import csv
import gzip
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import mapping

from mmcyclic.datasets.io import read_image
from mmcyclic.wsi.region_tiles import ClassMap, cut_region_tiles
from mmcyclic.wsi.slide import open_slide
from mmcyclic.wsi.synthetic_slide import write_synthetic_slide

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'tools'))
import qupath_tiles  # noqa: E402


def annotation(geometry, cls, object_type='annotation'):
    props = {'objectType': object_type}
    if cls is not None:
        props['classification'] = {'name': cls, 'color': [255, 0, 0]}
    return {'type': 'Feature', 'geometry': mapping(geometry), 'properties': props}


@pytest.fixture(scope='module')
def regions():
    """Regions on the 1536 x 2048 synthetic slide (level-0 px at 0.25 µm/px)."""
    hole = shapely.Polygon([(0, 0), (896, 0), (896, 448), (0, 448)],
                           [[(224, 0 + 1), (448, 0 + 1), (448, 224), (224, 224)]])
    return [
        annotation(shapely.MultiPolygon([hole, shapely.box(1120, 0, 1344, 224)]), 'Nuclei'),
        annotation(shapely.box(0, 672, 448, 1120), 'No nuclei'),
        annotation(shapely.box(224, 672, 672, 896), 'Nuclei'),   # overlaps the negative
        annotation(shapely.box(1344, 896, 1792, 1344), 'Artefact'),
        annotation(shapely.box(1344, 672, 1792, 1120), 'Nuclei'),  # half vetoed by Artefact
        annotation(shapely.box(0, 1344, 448, 1536), 'Mystery'),
        annotation(shapely.box(10, 10, 20, 20), None),
        annotation(shapely.box(3000, 3000, 3300, 3300), 'Nuclei'),  # off the slide
        annotation(shapely.box(5, 5, 15, 15), 'Nucleus', 'detection'),
        annotation(shapely.Point(3, 4), 'Nuclei'),
    ]


def write_regions(path, features):
    with gzip.open(path, 'wt') as handle:  # QuPath's GZIP export
        json.dump(features, handle)  # the bare-array form QuPath writes from scripts
    return path


def test_tiles_follow_the_regions_and_every_skip_is_counted(tmp_path, pyramids, regions):
    ann = write_regions(tmp_path / 'generic.geojson.gz', regions)
    report = cut_region_tiles([pyramids['generic']], ann, tmp_path / 'tiles',
                              ClassMap(('Nuclei', ), ('No nuclei', ), ('Artefact', )), 0.25,
                              tile_size=224, progress=False)
    rows = list(csv.DictReader(open(tmp_path / 'tiles' / 'tiles.csv')))
    origins = {(r['label'], int(r['x']), int(r['y'])) for r in rows}
    # The hole (a 224-px square at x 224..448 of the first row) gives no positive.
    assert ('pos', 224, 0) not in origins and ('pos', 0, 0) in origins
    assert ('pos', 1120, 0) in origins
    assert ('neg', 0, 896) in origins and ('neg', 224, 896) in origins
    assert ('neg', 224, 672) not in origins and ('pos', 224, 672) not in origins  # ambiguous
    assert ('pos', 1344, 672) in origins and ('pos', 1344, 896) not in origins  # ignore veto
    assert report.tiles == {('generic.tif', 'pos'): 11, ('generic.tif', 'neg'): 3}
    assert report.dropped_tiles == {'ambiguous: in positive and negative regions': 1,
                                    'touch an ignore region': 2,
                                    'covered under --min-coverage 0.9': 1}  # the hole's tile
    assert report.skipped_objects == {
        'class "Mystery" is in no --pos/--neg/--ignore-class': 1,
        'unclassified annotations': 1, 'regions outside the slide': 1,
        'detection objects, not annotations': 1,
        'not an area (Point) (generic.geojson.gz)': 1}
    with open_slide(pyramids['generic']) as slide:
        first = rows[0]
        x, y = int(first['x']), int(first['y'])
        np.testing.assert_array_equal(read_image(tmp_path / 'tiles' / first['path']),
                                      slide.read(0, x, y, 224, 224))
    assert json.loads((tmp_path / 'tiles' / 'summary.json').read_text())['tiles']


def test_tile_grid_follows_the_model_mpp(tmp_path, synthetic, regions):
    """A 0.125 µm/px slide: tiles of 224 model px cover 448 level-0 px, read from level 1."""
    slide_path = write_synthetic_slide(tmp_path / 'fine.tif', synthetic, mpp=0.125,
                                       compression='zlib')
    features = [annotation(shapely.box(0, 0, 896, 448), 'Nuclei'),
                annotation(shapely.box(0, 896, 896, 1344), 'No nuclei')]
    (tmp_path / 'fine.geojson').write_text(json.dumps({'type': 'FeatureCollection',
                                                       'features': features}))
    cut_region_tiles([slide_path], tmp_path, tmp_path / 'tiles', ClassMap(('Nuclei', ),
                                                                          ('No nuclei', )),
                     0.25, tile_size=224, min_coverage=1.0, progress=False)
    rows = list(csv.DictReader(open(tmp_path / 'tiles' / 'tiles.csv')))
    assert {(r['label'], r['x'], r['y'], r['w']) for r in rows} == {
        ('pos', '0', '0', '448'), ('pos', '448', '0', '448'),
        ('neg', '0', '896', '448'), ('neg', '448', '896', '448')}
    with open_slide(slide_path) as slide:
        np.testing.assert_array_equal(read_image(tmp_path / 'tiles' / rows[1]['path']),
                                      slide.read(1, 224, 0, 224, 224))


def test_tool_output_loads_as_a_classifier_dataset(tmp_path, pyramids, regions):
    from mmcyclic.datasets.tile_dataset import ImageLabelTileDataset
    write_regions(tmp_path / 'aperio.geojson.gz', regions)
    code = qupath_tiles.main([str(pyramids['svs']), '--annotations', str(tmp_path), '--out',
                              str(tmp_path / 'tiles'), '--pos-class', 'Nuclei', '--neg-class',
                              'No nuclei', '--ignore-class', 'Artefact', '--max-tiles-per-class',
                              '2', '--no-progress'])
    assert code == 0
    dataset = ImageLabelTileDataset(str(tmp_path / 'tiles'), ann_file='tiles.csv', pipeline=[])
    assert dataset.class_counts() == (2, 2)
    folders = ImageLabelTileDataset(str(tmp_path / 'tiles'), pipeline=[])
    assert folders.class_counts() == (2, 2)


def test_tool_exit_codes(tmp_path, pyramids, regions, capsys):
    none = tmp_path / 'none.tif'
    from mmcyclic.wsi.synthetic_slide import SyntheticSlide
    write_synthetic_slide(none, SyntheticSlide(512, 512, block=256, distinct=1), mpp=None)
    write_regions(tmp_path / 'none.geojson', regions)
    args = ['--annotations', str(tmp_path), '--out', str(tmp_path / 't'), '--pos-class',
            'Nuclei', '--neg-class', 'No nuclei', '--no-progress']
    assert qupath_tiles.main([str(none)] + args) == 2
    assert '--slide-mpp' in capsys.readouterr().err
    assert qupath_tiles.main([str(none), '--pos-class', 'A'] + args) == 2  # A and Nuclei: fine
    assert qupath_tiles.main([str(pyramids['svs'])] + args[:-5] + [
        '--pos-class', 'X', '--neg-class', 'X']) == 2
    assert 'more than one' in capsys.readouterr().err
