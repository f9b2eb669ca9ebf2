"""Whole-slide inference (:func:`mmcyclic.wsi.slide_inference.segment_slide`), fake detector."""
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import shapely
from wsi_helpers import model_grid_truth, qupath_import, rasterise

from mmcyclic.wsi.slide import TifffileSlide
from mmcyclic.wsi.slide_inference import ResumeRefused, SlideOptions, segment_slide
from mmcyclic.wsi.store import NucleusStore
from mmcyclic.wsi.synthetic_slide import write_synthetic_slide

from apis_helpers import GroundTruthDetector, max_extent, same_partition

REPO = Path(__file__).resolve().parents[2]
IDENTITY = {'config_sha256': 'config', 'checkpoint_sha256': 'weights'}


@pytest.fixture(scope='module')
def truth(synthetic):
    return model_grid_truth(synthetic)


def run(path, predictor, out, overlap, identity=IDENTITY, **options):
    return segment_slide(path, predictor, 256, overlap, 4, 0.5,
                         SlideOptions(0.25, **{'tissue': 'none', **options}), out, identity,
                         progress=False, log=lambda message: None)


def stored(out, stem):
    with NucleusStore(Path(out) / f'{stem}.db') as store:
        return [g for g, _ in store.iter_nuclei()]


def test_every_nucleus_once_across_seams(tmp_path, pyramids, truth):
    """A detector returning the true (cut) nuclei of each tile: the output is the truth."""
    detector = GroundTruthDetector(truth)
    summary = run(pyramids['svs'], detector, tmp_path, max_extent(truth))
    labels = rasterise(stored(tmp_path, 'aperio'), truth.shape)
    assert same_partition(labels, truth)
    assert summary['nuclei'] == truth.max() and summary['tiles_sent'] == summary['tiles_total']
    assert summary['mpp']['source'] == 'Aperio ImageDescription MPP'


def test_tissue_decides_which_tiles_reach_the_model(tmp_path, pyramids, synthetic, truth):
    detector = GroundTruthDetector(truth)
    summary = run(pyramids['generic'], detector, tmp_path, max_extent(truth), tissue='auto')
    assert summary['tiles_sent'] == len(detector.windows) < summary['tiles_total']
    from mmcyclic.apis.tiled_inference import tile_windows
    for window in tile_windows(*truth.shape, 256, max_extent(truth)):
        y0, x0, y1, x1 = window
        ys, xs = np.mgrid[y0:y1:8, x0:x1:8] + 4
        drawn = synthetic.tissue(ys, xs).mean()
        if drawn >= 0.08:  # 5 % plus the mask's 16 µm margin and its 8 µm pixels
            assert window in detector.windows
        ys, xs = np.mgrid[y0 - 128:y1 + 128:8, x0 - 128:x1 + 128:8] + 4
        if not synthetic.tissue(ys, xs).any():  # no tissue within the margins: never sent
            assert window not in detector.windows
    # Every nucleus is found: tiles without tissue hold none.
    assert summary['nuclei'] == truth.max()
    assert summary['tissue_mm2'] == pytest.approx(
        synthetic.tissue_fraction * 1536 * 2048 * 0.25 ** 2 / 1e6, rel=0.15)


def test_user_masks_and_roi_annotations(tmp_path, pyramids, truth):
    from mmcyclic.datasets.io import write_image
    mask = np.zeros((96, 128, 3), np.uint8)
    mask[:, :32] = 255  # the left quarter of the slide
    write_image(tmp_path / 'mask.png', mask)
    detector = GroundTruthDetector(truth)
    run(pyramids['generic'], detector, tmp_path / 'png', max_extent(truth),
        tissue=str(tmp_path / 'mask.png'))
    assert detector.windows and all(x0 < 512 for _, x0, _, _ in detector.windows)
    roi = {'type': 'FeatureCollection', 'features': [
        {'type': 'Feature', 'geometry': shapely.geometry.mapping(shapely.box(1200, 600, 1500, 900)),
         'properties': {'objectType': 'annotation', 'classification': 'Tumor'}},
        {'type': 'Feature', 'geometry': shapely.geometry.mapping(shapely.box(0, 0, 300, 300)),
         'properties': {'objectType': 'annotation', 'classification': 'Stroma'}}]}
    (tmp_path / 'roi.geojson').write_text(json.dumps(roi))
    detector = GroundTruthDetector(truth)
    run(pyramids['generic'], detector, tmp_path / 'roi', max_extent(truth),
        tissue=str(tmp_path / 'roi.geojson'), roi_classes=('Tumor', ))
    assert detector.windows
    assert all(x1 > 1200 and x0 < 1500 and y1 > 600 and y0 < 900
               for y0, x0, y1, x1 in detector.windows)


def test_finer_slide_is_read_at_level_1_with_outputs_in_level_0(tmp_path, synthetic):
    path = write_synthetic_slide(tmp_path / 'fine.tif', synthetic, mpp=0.125, compression='zlib')
    coarse = model_grid_truth(synthetic, factor=2)
    summary = run(path, GroundTruthDetector(coarse), tmp_path, max_extent(coarse))
    assert summary['mpp']['level'] == 1 and summary['mpp']['resample'] == 1.0
    _, fine = synthetic.region(0, 0, synthetic.height, synthetic.width)
    geometries = stored(tmp_path, 'fine')
    assert len(geometries) == coarse.max()
    ious, errors = [], []
    for geometry in geometries:
        x, y = geometry.centroid.x, geometry.centroid.y
        target = fine[int(y), int(x)]
        if target == 0:
            continue
        x0, y0, x1, y1 = (int(v) for v in geometry.bounds)
        x0, y0, x1, y1 = max(x0 - 4, 0), max(y0 - 4, 0), x1 + 4, y1 + 4
        mine = rasterise([geometry], (y1 - y0, x1 - x0), shift=(-x0, -y0)) > 0
        theirs = fine[y0:y1, x0:x1] == target
        ious.append(np.count_nonzero(mine & theirs) / np.count_nonzero(mine | theirs))
        rows, cols = np.nonzero(theirs)
        errors.append(np.hypot(cols.mean() + x0 + 0.5 - x, rows.mean() + y0 + 0.5 - y))
        if len(ious) == 150:
            break
    assert np.median(ious) >= 0.8 and np.percentile(errors, 95) <= 1.0


def test_geojson_follows_qupaths_rules_and_the_bounds_origin(tmp_path, pyramids, truth,
                                                             monkeypatch):
    run(pyramids['generic'], GroundTruthDetector(truth), tmp_path / 'plain', max_extent(truth),
        formats=('geojson.gz', 'db'))
    imported = qupath_import(tmp_path / 'plain' / 'generic.geojson.gz')
    assert len(imported) == truth.max()
    assert {(t, c) for t, c, _ in imported} == {('detection', 'Nucleus')}
    data = json.loads(gzip.decompress((tmp_path / 'plain' / 'generic.geojson.gz').read_bytes()))
    names = [m['name'] for m in data['features'][0]['properties']['measurements']]
    assert names == ['Score', 'Area px^2', 'Area µm^2', 'Centroid X µm', 'Centroid Y µm']
    assert data['mmcyclic']['plan']['decision'].startswith('level 0 read as is')
    # A slide with an OpenSlide bounds origin: QuPath shows it cropped, coordinates shift.
    original = TifffileSlide._init_levels

    def with_bounds(self):
        original(self)
        self.bounds = (64, 32, 1984, 1504)
    monkeypatch.setattr(TifffileSlide, '_init_levels', with_bounds)
    run(pyramids['generic'], GroundTruthDetector(truth), tmp_path / 'bounds', max_extent(truth))
    shifted = qupath_import(tmp_path / 'bounds' / 'generic.geojson.gz')
    for (_, _, a), (_, _, b) in zip(imported, shifted):
        assert shapely.equals_exact(shapely.affinity.translate(a, -64, -32), b, 1e-6)
    run(pyramids['generic'], GroundTruthDetector(truth), tmp_path / 'slide', max_extent(truth),
        coordinates='slide')
    same = qupath_import(tmp_path / 'slide' / 'generic.geojson.gz')
    assert all(shapely.equals_exact(a, b, 1e-6) for (*_, a), (*_, b) in zip(imported, same))


def test_store_has_tiatoolboxs_schema_and_answers_window_queries(tmp_path, pyramids, truth):
    run(pyramids['generic'], GroundTruthDetector(truth), tmp_path, max_extent(truth))
    con = sqlite3.connect(tmp_path / 'generic.db')
    columns = [(r[1], r[2]) for r in con.execute('PRAGMA table_info(annotations)')]
    assert columns == [('id', 'INTEGER'), ('key', 'TEXT'), ('objtype', 'TEXT'), ('cx', 'FLOAT'),
                       ('cy', 'FLOAT'), ('geometry', 'BLOB'), ('properties', 'TEXT'),
                       ('area', 'FLOAT')]
    assert [r[1] for r in con.execute('PRAGMA table_info(rtree)')] == [
        'id', 'min_x', 'max_x', 'min_y', 'max_y']
    metadata = dict(con.execute('SELECT key, value FROM metadata'))
    assert {k: json.loads(v) for k, v in metadata.items()} == {
        'version': '1.0.1', 'compression': 'zlib', 'compression_level': 9}
    con.close()
    with NucleusStore(tmp_path / 'generic.db') as store:
        geometries = [g for g, _ in store.iter_nuclei()]
        assert store.count() == len(geometries) == truth.max()
        rng = np.random.default_rng(0)
        for _ in range(20):
            x0, y0 = rng.uniform(0, 1800), rng.uniform(0, 1300)
            x1, y1 = x0 + rng.uniform(1, 400), y0 + rng.uniform(1, 400)
            brute = [i for i, g in enumerate(geometries, 1)
                     if g.bounds[2] >= x0 and g.bounds[0] <= x1 and g.bounds[3] >= y0
                     and g.bounds[1] <= y1]
            assert store.query_window(x0, y0, x1, y1) == brute
    try:
        from tiatoolbox.annotation import SQLiteStore
    except ImportError:
        return
    assert len(SQLiteStore(tmp_path / 'generic.db')) == truth.max()


def test_finished_slides_are_skipped_and_changed_inputs_refused(tmp_path, pyramids, truth):
    run(pyramids['generic'], GroundTruthDetector(truth), tmp_path, max_extent(truth))
    detector = GroundTruthDetector(truth)
    again = run(pyramids['generic'], detector, tmp_path, max_extent(truth))
    assert detector.windows == [] and again['nuclei'] == truth.max()
    with pytest.raises(ResumeRefused, match='checkpoint_sha256.*--overwrite'):
        run(pyramids['generic'], detector, tmp_path, max_extent(truth),
            identity={**IDENTITY, 'checkpoint_sha256': 'other'})
    with pytest.raises(ResumeRefused, match='settings'):
        run(pyramids['generic'], detector, tmp_path, max_extent(truth) + 2)
    run(pyramids['generic'], detector, tmp_path, max_extent(truth),
        identity={**IDENTITY, 'checkpoint_sha256': 'other'}, overwrite=True)
    assert detector.windows


KILLED_RUN = textwrap.dedent('''
    import sys
    sys.path[:0] = [{tests!r}, {helpers!r}]
    from apis_helpers import GroundTruthDetector, max_extent
    from wsi_helpers import model_grid_truth
    from mmcyclic.wsi.slide_inference import SlideOptions, segment_slide
    from mmcyclic.wsi.synthetic_slide import SyntheticSlide
    truth = model_grid_truth(SyntheticSlide(1536, 2048, block=256, distinct=4, seed=1,
                                            tissue_fraction=0.3, empty_blocks=(3, )))
    summary = segment_slide({slide!r}, GroundTruthDetector(truth), 256, max_extent(truth), 4, 0.5,
                            SlideOptions(0.25, tissue='auto'), sys.argv[1],
                            {{'config_sha256': 'c', 'checkpoint_sha256': 'k'}}, progress=False)
    print('TILES', summary['tiles_this_run'], summary['tiles_sent'])
''')


@pytest.mark.slow
def test_killed_run_resumes_to_byte_identical_outputs(tmp_path, pyramids, truth):
    script = tmp_path / 'run.py'
    script.write_text(KILLED_RUN.format(tests=str(REPO / 'tests' / 'test_apis'),
                                        helpers=str(Path(__file__).parent),
                                        slide=str(pyramids['generic'])))
    env = {'PYTHONPATH': str(REPO), 'PATH': '/usr/bin:/bin'}

    def launch(out, kill_after=None):
        extra = {'MMCYCLIC_TEST_KILL_AFTER_TILES': str(kill_after)} if kill_after else {}
        return subprocess.run([sys.executable, str(script), str(out)], env={**env, **extra},
                              capture_output=True, text=True, timeout=600)
    clean = launch(tmp_path / 'clean')
    assert clean.returncode == 0, clean.stderr
    kill_after = int(clean.stdout.split('TILES')[1].split()[1]) // 2  # mid-slide
    killed = launch(tmp_path / 'resumed', kill_after=kill_after)
    assert killed.returncode == -9 and not (tmp_path / 'resumed' / 'generic.geojson.gz').exists()
    resumed = launch(tmp_path / 'resumed')
    assert resumed.returncode == 0, resumed.stderr
    this_run, sent = (int(v) for v in resumed.stdout.split('TILES')[1].split())
    from mmcyclic.apis.tiled_inference import tile_windows
    starts = [w[0] for w in tile_windows(*truth.shape, 256, max_extent(truth))]
    widest_band = max(starts.count(s) for s in starts)
    # At most one band's tiles were computed twice.
    assert kill_after + this_run <= sent + widest_band and this_run < sent
    with NucleusStore(tmp_path / 'resumed' / 'generic.db') as store:
        assert store.pending_state() is not None
    # The GeoJSON and the stored nuclei are identical (the summary's timings are not).
    assert (tmp_path / 'clean' / 'generic.geojson.gz').read_bytes() == \
        (tmp_path / 'resumed' / 'generic.geojson.gz').read_bytes()
    clean_rows = list(sqlite3.connect(tmp_path / 'clean' / 'generic.db').execute(
        'SELECT key, geometry, properties FROM annotations ORDER BY id'))
    resumed_rows = list(sqlite3.connect(tmp_path / 'resumed' / 'generic.db').execute(
        'SELECT key, geometry, properties FROM annotations ORDER BY id'))
    assert clean_rows == resumed_rows


@pytest.mark.slow
def test_memory_stays_flat_from_1k_to_4k_slides(tmp_path):
    """16x the area, same tissue fraction and density: peak RSS within 1.25x, no big array."""
    from mmcyclic.wsi.synthetic_slide import SyntheticSlide
    results = {}
    for size in (1024, 4096):
        path = write_synthetic_slide(tmp_path / f's{size}.svs', SyntheticSlide(
            size, size, block=512, distinct=4, seed=0, tissue_fraction=0.3), 'svs')
        done = subprocess.run([sys.executable, str(REPO / 'benchmarks' / 'bench_wsi.py'),
                               '--memory-child', str(path), str(tmp_path / f'out{size}')],
                              env={**os.environ, 'PYTHONPATH': str(REPO)}, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, done.stderr
        results[size] = json.loads(done.stdout.strip().splitlines()[-1])
    assert results[4096]['nuclei'] > 10 * results[1024]['nuclei']
    assert results[4096]['rss_mb'] <= 1.25 * results[1024]['rss_mb']
    assert results[4096]['traced_peak_mb'] < 64  # all numpy arrays at once, so any single one


def test_reading_in_worker_processes_gives_the_same_store(tmp_path, pyramids, truth):
    region = dict(region=(0, 0, 1024, 768))
    run(pyramids['generic'], GroundTruthDetector(truth), tmp_path / 'main', max_extent(truth),
        **region)
    run(pyramids['generic'], GroundTruthDetector(truth), tmp_path / 'workers', max_extent(truth),
        workers=2, **region)
    rows = [list(sqlite3.connect(tmp_path / name / 'generic.db').execute(
        'SELECT key, geometry, properties FROM annotations ORDER BY id'))
        for name in ('main', 'workers')]
    assert rows[0] == rows[1] and len(rows[0]) > 10
