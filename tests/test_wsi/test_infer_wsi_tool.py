"""tools/infer_wsi.py with a real (randomly initialised) model: exits, outputs, equivalences."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from wsi_helpers import qupath_import, rasterise

from mmcyclic.apis import NucleiSegmenter
from mmcyclic.wsi.slide import open_slide
from mmcyclic.wsi.store import NucleusStore
from mmcyclic.wsi.synthetic_slide import SyntheticSlide, write_synthetic_slide

from apis_helpers import R18_CONFIG, load_tool, same_partition, save_random_checkpoint

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    return save_random_checkpoint(tmp_path_factory.mktemp('ckpt') / 'random.pth')


@pytest.mark.slow  # builds the model twice (~6 s)
def test_mpp_problems_exit_2_naming_the_flag_and_a_region_run_is_qupath_ready(
        tmp_path, checkpoint, full_tissue, capsys):
    none = write_synthetic_slide(tmp_path / 'in' / 'none.tif', full_tissue, mpp=None)
    coarse = write_synthetic_slide(tmp_path / 'in' / 'coarse.tif', full_tissue, mpp=0.5)
    truncated = tmp_path / 'in' / 'truncated.tif'
    truncated.write_bytes(none.read_bytes()[:100_000])  # an interrupted copy
    tool = load_tool('infer_wsi')
    common = [str(R18_CONFIG), str(checkpoint), '--out', str(tmp_path / 'out'), '--tile-size',
              '256', '--overlap', '48', '--score-thr', '0.5', '--no-progress', '--tissue', 'none']
    assert tool.main(common[:2] + [str(none), str(coarse), str(truncated)] + common[2:]) == 2
    err = capsys.readouterr().err
    assert 'none.tif' in err and '--slide-mpp' in err
    assert 'coarse.tif' in err and '--allow-upsample' in err
    assert 'truncated.tif' in err and 'truncated TIFF' in err
    code = tool.main(common[:2] + [str(none)] + common[2:] + [
        '--slide-mpp', '0.25', '--region', '128,64,200,150', '--format', 'geojson.gz,db'])
    assert code == 0
    summary = json.loads((tmp_path / 'out' / 'none.summary.json').read_text())
    assert summary['mpp']['source'] == '--slide-mpp' and summary['tiles_total'] == 1
    imported = qupath_import(tmp_path / 'out' / 'none.geojson.gz')
    assert len(imported) == summary['nuclei'] > 0
    for *_, geometry in imported:  # inside the region, in level-0 pixels
        x0, y0, x1, y1 = geometry.bounds
        assert x0 >= 128 and y0 >= 64 and x1 <= 328 and y1 <= 214
    csv_rows = (tmp_path / 'out' / 'summary.csv').read_text().splitlines()
    assert len(csv_rows) == 2 and csv_rows[1].startswith('none.tif,')


@pytest.mark.slow
def test_streamed_equals_in_memory_segmentation_with_a_real_model(tmp_path, checkpoint):
    """A 1024 x 1024 slide, 9 tiles overlapping by 64: the same nuclei as segment() in memory."""
    slide = SyntheticSlide(1024, 1024, block=512, distinct=2, seed=4, tissue_fraction=1.0)
    path = write_synthetic_slide(tmp_path / 'big.tif', slide, compression='zlib')
    tool = load_tool('infer_wsi')
    common = [str(R18_CONFIG), str(checkpoint), str(path), '--tile-size', '512', '--overlap',
              '64', '--score-thr', '0.5', '--tissue', 'none', '--no-progress']
    # The config's inference.min_area (50 px): both paths drop the same small nuclei.
    assert tool.main(common + ['--out', str(tmp_path / 'default')]) == 0
    segmenter = NucleiSegmenter(R18_CONFIG, checkpoint, tile_size=512, overlap=64,
                                score_thr=0.5)
    with open_slide(path) as opened:
        image = opened.read(0, 0, 0, 1024, 1024)
    in_memory = segmenter.segment(image)
    summary = json.loads((tmp_path / 'default' / 'big.summary.json').read_text())
    assert in_memory.dropped_below_min_area > 0
    assert summary['nuclei_below_min_area'] == in_memory.dropped_below_min_area
    with NucleusStore(tmp_path / 'default' / 'big.db') as store:
        assert store.count() == len(in_memory)
    # Every nucleus (min_area 1): the same partition and scores as in memory.
    assert tool.main(common + ['--out', str(tmp_path / 'out'), '--min-area', '1']) == 0
    segmenter = NucleiSegmenter(R18_CONFIG, checkpoint, tile_size=512, overlap=64,
                                score_thr=0.5, min_area=1)
    in_memory = segmenter.segment(image)
    with NucleusStore(tmp_path / 'out' / 'big.db') as store:
        nuclei = list(store.iter_nuclei())
    labels = rasterise([g for g, _ in nuclei], (1024, 1024))
    assert len(nuclei) == len(in_memory) > 50
    assert same_partition(labels, in_memory.label_map)
    assert sorted(round(p['score'], 6) for _, p in nuclei) == sorted(
        np.round(in_memory.scores, 6).tolist())


@pytest.mark.slow
def test_two_ranks_under_gloo_equal_one_process(tmp_path, checkpoint, full_tissue):
    slides = tmp_path / 'slides'
    for k in range(3):
        write_synthetic_slide(slides / f's{k}.tif', SyntheticSlide(
            256 + 64 * k, 320, block=256, distinct=1, seed=k, tissue_fraction=1.0),
            min_level_side=64)
    args = [str(R18_CONFIG), str(checkpoint), str(slides), '--tile-size', '256', '--overlap',
            '48', '--score-thr', '0.5', '--tissue', 'none', '--no-progress']
    # torchrun gives each process one thread; CPU results depend on the thread count
    # (summation order), so the single process gets one thread too.
    env = {**os.environ, 'PYTHONPATH': str(REPO), 'PORT': '29531', 'PYTHON': sys.executable,
           'OMP_NUM_THREADS': '1'}
    one = subprocess.run([sys.executable, str(REPO / 'tools' / 'infer_wsi.py'), *args, '--out',
                          str(tmp_path / 'one')], env=env, capture_output=True, text=True)
    assert one.returncode == 0, one.stderr
    two = subprocess.run(['bash', str(REPO / 'tools' / 'dist_infer_wsi.sh'), args[0], args[1],
                          '2', *args[2:], '--out', str(tmp_path / 'two')], env=env,
                         capture_output=True, text=True)
    assert two.returncode == 0, two.stderr
    for k in range(3):
        assert (tmp_path / 'one' / f's{k}.geojson.gz').read_bytes() == \
            (tmp_path / 'two' / f's{k}.geojson.gz').read_bytes()
    assert len((tmp_path / 'two' / 'summary.csv').read_text().splitlines()) == 4


def test_shards_are_disjoint_and_cover_all_slides(tmp_path):
    from mmcyclic.wsi.slide_inputs import parse_shard, shard_of
    paths = []
    for k, size in enumerate([5, 50, 20, 40, 10]):
        paths.append(tmp_path / f'{k}.svs')
        paths[-1].write_bytes(b'x' * size)
    first, second = shard_of(paths, 0, 2), shard_of(paths, 1, 2)
    assert [p.name for p in first] == ['1.svs', '2.svs', '0.svs']  # largest first, dealt
    assert set(first) | set(second) == set(paths) and not set(first) & set(second)
    assert parse_shard('1/2') == (1, 2)
    for bad in ('2/2', 'a/b', '1'):
        with pytest.raises(ValueError, match='--shard'):
            parse_shard(bad)
