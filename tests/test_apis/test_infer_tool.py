"""tools/infer.py: a folder with a corrupt file, exit codes, outputs."""
import argparse
import importlib.util
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from mmcyclic.apis import NucleiSegmenter, collect_inputs
from mmcyclic.datasets.io import write_image
from mmcyclic.datasets.synthetic import generate_synthetic_he

from apis_helpers import R18_CONFIG

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
    assert code == 1 and '4 input(s) failed' in err  # 2 and 3 would read as setup errors
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


def _unreadable_checkpoint_error(path: Path, capsys) -> str:
    code = _load_tool().main([str(R18_CONFIG), str(path), str(path.parent), '--out',
                              str(path.parent / 'out')])
    err = capsys.readouterr().err
    assert code == 2
    return err


def test_truncated_checkpoint_is_named_as_such(tmp_path, checkpoint, capsys):
    """Item 5 of issue 19: a truncated checkpoint was reported as weights that do not fit."""
    data = checkpoint.read_bytes()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 2])
    err = _unreadable_checkpoint_error(tmp_path / 'cut.pth', capsys)
    assert 'cut.pth: cannot read this checkpoint file' in err and 'truncated' in err
    assert 'copy it again' in err and 'do not fit' not in err


def test_unsafe_checkpoint_is_named_as_such(tmp_path, checkpoint, capsys):
    """Item 5 of issue 19: a checkpoint refused as unsafe was reported as weights that do not
    fit the model."""
    state = torch.load(checkpoint, weights_only=True)
    state['meta'] = {'args': argparse.Namespace(lr=0.1)}  # e.g. pickled by another framework
    torch.save(state, tmp_path / 'pickled.pth')
    err = _unreadable_checkpoint_error(tmp_path / 'pickled.pth', capsys)
    assert 'pickled.pth: refusing to unpickle' in err and 'argparse.Namespace' in err
    assert 'MMCYCLIC_TRUST_CHECKPOINTS=1' in err and 'do not fit' not in err


def test_unwritable_out_is_found_before_any_inference(tmp_path, checkpoint, capsys,
                                                      monkeypatch):
    """Item 5 of issue 19: an unwritable --out was found after all inference ran, and exited
    with the failed-input count (2 here, the code of a bad config)."""
    def must_not_run(self, *args, **kwargs):
        raise AssertionError('inference ran although --out cannot be written')

    monkeypatch.setattr(NucleiSegmenter, 'segment', must_not_run)
    image = generate_synthetic_he(1, size=64, seed=1)[0][0]
    for name in ('a.png', 'b.png'):
        write_image(tmp_path / 'in' / name, image)
    (tmp_path / 'taken').write_text('a file where the output folder should be')
    code = _load_tool().main([str(R18_CONFIG), str(checkpoint), str(tmp_path / 'in'), '--out',
                              str(tmp_path / 'taken' / 'out')])
    err = capsys.readouterr().err
    assert code == 3
    assert f'{tmp_path / "taken" / "out"}: cannot write the outputs there' in err
    assert 'Choose another output folder (--out)' in err


def test_16_bit_tiff_is_scaled_to_8_bit(tmp_path, checkpoint):
    """Item 5 of issue 19: a 16-bit TIFF failed with "expected 8-bit RGB"."""
    image = generate_synthetic_he(1, size=96, seed=2)[0][0]
    (tmp_path / 'in16').mkdir()
    tifffile.imwrite(tmp_path / 'in16' / 'deep.tif', image.astype(np.uint16) * 257,
                     photometric='rgb')
    write_image(tmp_path / 'in8' / 'deep.png', image)
    for folder in ('in16', 'in8'):
        code = _load_tool().main([str(R18_CONFIG), str(checkpoint), str(tmp_path / folder),
                                  '--out', str(tmp_path / f'out_{folder}'), '--format', 'labels',
                                  '--score-thr', '0.3', '--no-progress'])
        assert code == 0
    labels16 = tifffile.imread(tmp_path / 'out_in16' / 'deep_labels.tif')
    np.testing.assert_array_equal(labels16, tifffile.imread(tmp_path / 'out_in8' /
                                                            'deep_labels.tif'))
    assert labels16.max() > 0  # the comparison is not between two empty maps


def test_no_checkpoint_is_none_warning(checkpoint):
    """Item 5 of issue 19: every run printed mmdet's "checkpoint is None, use COCO classes"
    warning (mmdet's simplefilter('once') beat the ignore filter)."""
    warnings.onceregistry.clear()  # 'once' shows a message once per process
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        NucleiSegmenter(R18_CONFIG, checkpoint)
    assert not [w for w in caught if 'checkpoint is None' in str(w.message)]


def test_finding_nothing_anywhere_warns_with_threshold_and_highest_score(tmp_path, checkpoint,
                                                                         capsys):
    """Item 7 of issue 19: a model scoring below the threshold silently found 0 nuclei."""
    image = generate_synthetic_he(1, size=96, seed=4)[0][0]
    for name in ('a.png', 'b.png'):
        write_image(tmp_path / 'in' / name, image)
    with pytest.warns(UserWarning) as record:
        code = _load_tool().main([str(R18_CONFIG), str(checkpoint), str(tmp_path / 'in'),
                                  '--out', str(tmp_path / 'out'), '--score-thr', '1.0',
                                  '--no-progress'])
    assert code == 0
    messages = [str(w.message) for w in record if 'no nucleus found' in str(w.message)]
    assert len(messages) == 1
    match = re.search(r'in any of the 2 image\(s\) at score_thr=1\.0 \(the highest score seen '
                      r'was (0\.\d+)\)', messages[0])
    assert match and 0.05 <= float(match.group(1)) < 1.0
    with warnings.catch_warnings(record=True) as caught:  # a run that finds nuclei is quiet
        warnings.simplefilter('always')
        assert _load_tool().main([str(R18_CONFIG), str(checkpoint), str(tmp_path / 'in'),
                                  '--out', str(tmp_path / 'out2'), '--score-thr', '0.05',
                                  '--no-progress']) == 0
    assert not [w for w in caught if 'no nucleus found' in str(w.message)]


@pytest.mark.parametrize('how', ['legacy', 'plain_pickle'])
def test_unsafe_legacy_and_pickle_checkpoints_are_named_as_unsafe(tmp_path, checkpoint, capsys,
                                                                  how):
    """Issue 27 item 7: they were refused but reported as "truncated or damaged: copy it
    again", quoting torch's advice to use weights_only=False."""
    import pickle
    state = torch.load(checkpoint, weights_only=True)
    state['meta'] = {'args': argparse.Namespace(lr=0.1)}
    path = tmp_path / f'{how}.pth'
    if how == 'legacy':
        torch.save(state, path, _use_new_zipfile_serialization=False)
    else:
        with open(path, 'wb') as handle:
            pickle.dump(state, handle)
    err = _unreadable_checkpoint_error(path, capsys)
    assert f'{how}.pth: a legacy-format or plain-pickle file; refusing to unpickle' in err
    assert 'argparse.Namespace' in err and 'MMCYCLIC_TRUST_CHECKPOINTS=1' in err
    assert 'truncated' not in err and 'weights_only=False' not in err


def test_a_truncated_legacy_checkpoint_is_still_named_truncated(tmp_path, checkpoint, capsys):
    state = torch.load(checkpoint, weights_only=True)
    torch.save(state, tmp_path / 'full.pth', _use_new_zipfile_serialization=False)
    data = (tmp_path / 'full.pth').read_bytes()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 3])
    err = _unreadable_checkpoint_error(tmp_path / 'cut.pth', capsys)
    assert 'cut.pth: cannot read this checkpoint file' in err and 'truncated' in err


def test_a_checkpoint_with_nan_weights_is_refused_naming_it(tmp_path, checkpoint, capsys):
    """Issue 27 item 1: infer.py used a diverged run's weights and advised a lower threshold."""
    state = torch.load(checkpoint, weights_only=True)
    name = next(k for k, v in state['state_dict'].items() if v.is_floating_point())
    state['state_dict'][name] = torch.full_like(state['state_dict'][name], float('nan'))
    torch.save(state, tmp_path / 'diverged.pth')
    err = _unreadable_checkpoint_error(tmp_path / 'diverged.pth', capsys)
    assert f'diverged.pth: 1 weight tensor(s) hold NaN or infinite values (e.g. {name})' in err
    assert 'truncated' not in err and 'score' not in err


def test_broken_links_in_an_input_folder_are_failed_inputs(tmp_path):
    """Issue 27 item 8: a dangling link and a link loop were dropped silently (rc 0)."""
    inputs = tmp_path / 'in'
    inputs.mkdir()
    write_image(inputs / 'a.png', generate_synthetic_he(1, size=64, seed=1)[0][0])
    (inputs / 'gone.png').symlink_to(tmp_path / 'deleted.png')
    (inputs / 'loop.tif').symlink_to(inputs / 'loop.tif')
    paths, problems = collect_inputs([str(inputs)])
    assert [p.name for p in paths] == ['a.png']
    assert sorted(Path(name).name for name, _ in problems) == ['gone.png', 'loop.tif']
    assert all('broken symbolic link' in reason for _, reason in problems)


def test_an_image_over_max_pixels_is_a_failed_input(tmp_path, checkpoint, capsys):
    """Issue 27 item 6: a cap with a clear message, before the image is read."""
    write_image(tmp_path / 'in' / 'wide.png', np.zeros((100, 300, 3), np.uint8))
    code = _load_tool().main([str(R18_CONFIG), str(checkpoint), str(tmp_path / 'in'), '--out',
                              str(tmp_path / 'out'), '--max-pixels', '10000', '--no-progress'])
    err = capsys.readouterr().err
    assert code == 1
    assert 'wide.png: 300 x 100 pixels (0 Mpixels) is over the limit of 0.01 Mpixels' in err
    assert '--max-pixels' in err
