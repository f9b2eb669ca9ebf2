"""tools/infer.py: a folder with a corrupt file, exit codes, outputs."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from apis_helpers import R18_CONFIG

from mmcyclic.apis import NucleiSegmenter, collect_inputs
from mmcyclic.datasets.io import write_image
from mmcyclic.datasets.synthetic import generate_synthetic_he

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'infer.py'


def _load_tool():
    spec = importlib.util.spec_from_file_location('infer_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    """Random weights saved like a trained checkpoint (tests must not need a trained model)."""
    torch.manual_seed(0)
    model = NucleiSegmenter(R18_CONFIG).model
    path = tmp_path_factory.mktemp('ckpt') / 'random.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def test_folder_with_a_corrupt_file(tmp_path, checkpoint, capsys):
    image = generate_synthetic_he(1, size=128, seed=5)[0][0]
    inputs = tmp_path / 'in'
    write_image(inputs / 'a.png', image[:96, :96])
    tifffile.imwrite(inputs / 'b.tif', image[:120, :100], photometric='rgb', tile=(32, 32),
                     compression='zlib')
    data = (inputs / 'b.tif').read_bytes()
    (inputs / 'c.tif').write_bytes(data[:len(data) // 2])  # truncated download
    out = tmp_path / 'out'
    code = _load_tool().main([str(R18_CONFIG), str(checkpoint), str(inputs), '--out', str(out),
                              '--format', 'geojson,labels,coco,overlay', '--tile-size', '96',
                              '--overlap', '32'])
    captured = capsys.readouterr()
    assert code == 1
    assert 'c.tif' in captured.err and 'truncated' in captured.err
    expected = {f'{stem}{suffix}' for stem in 'ab'
                for suffix in ('.geojson', '_labels.tif', '_coco.json', '_overlay.png')}
    assert {p.name for p in out.iterdir()} == expected  # nothing for c, no temporary files
    for stem, shape in (('a', (96, 96)), ('b', (120, 100))):
        collection = json.loads((out / f'{stem}.geojson').read_text())
        labels = tifffile.imread(out / f'{stem}_labels.tif')
        assert labels.shape == shape and labels.dtype == np.uint32
        assert len(collection['features']) == labels.max()


def test_exit_code_counts_failed_inputs(tmp_path, checkpoint, capsys):
    for name in ('x.png', 'y.jpg', 'z.tif'):
        (tmp_path / name).write_bytes(b'garbage')
    code = _load_tool().main([str(R18_CONFIG), str(checkpoint), str(tmp_path / '*.*'),
                              str(tmp_path / 'absent.png'), '--out', str(tmp_path / 'out'),
                              '--no-progress'])
    err = capsys.readouterr().err
    assert code == 4
    assert all(name in err for name in ('x.png', 'y.jpg', 'z.tif', 'absent.png'))


def test_setup_errors_exit_before_any_input(tmp_path, capsys):
    code = _load_tool().main([str(R18_CONFIG), str(tmp_path / 'none.pth'), str(tmp_path),
                              '--out', str(tmp_path / 'out')])
    assert code == 2 and 'none.pth: checkpoint not found' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _load_tool().main([str(R18_CONFIG), 'x.pth', 'a.png', '--out', 'o', '--format', 'shp'])


def test_collect_inputs(tmp_path):
    for name in ('b.png', 'a.tif', 'notes.txt'):
        (tmp_path / name).write_bytes(b'')
    (tmp_path / 'empty').mkdir()
    paths, problems = collect_inputs([str(tmp_path), str(tmp_path / '*.png'),
                                      str(tmp_path / 'empty'), str(tmp_path / 'no*.jpg')])
    assert [p.name for p in paths] == ['a.tif', 'b.png']  # sorted, no duplicates
    assert [Path(name).name for name, _ in problems] == ['empty', 'no*.jpg']
