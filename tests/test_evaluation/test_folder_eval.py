"""Tests of folder scoring (:mod:`mmcyclic.evaluation.folder_eval`) and its CLI."""
import csv
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

from mmcyclic.datasets.io import write_label_map
from mmcyclic.evaluation import legacy_paper_metrics, nuclei_metrics
from mmcyclic.evaluation.folder_eval import evaluate_folders, format_report

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'eval_nuclei.py'


def _label_map(seed, shape=(48, 48)):
    rng = np.random.default_rng(seed)
    lab = np.zeros(shape, np.int64)
    for k in range(1, 8):
        y, x = rng.integers(4, shape[0] - 14, size=2)
        lab[y:y + rng.integers(5, 12), x:x + rng.integers(5, 12)] = k
    return lab


@pytest.fixture()
def folders(tmp_path):
    """GT: a, b, c, d. Predictions: a (png), b (tif), c (corrupt), e (no GT); d has none."""
    gt_dir, pred_dir = tmp_path / 'gt', tmp_path / 'pred'
    maps = {stem: _label_map(k) for k, stem in enumerate('abcd')}
    for stem, lab in maps.items():
        write_label_map(gt_dir / f'{stem}.npy' if stem == 'b' else gt_dir / f'{stem}.png', lab)
    write_label_map(pred_dir / 'a.png', np.roll(maps['a'], 1, axis=0))
    write_label_map(pred_dir / 'b.tif', np.zeros_like(maps['b']))  # empty prediction
    (pred_dir / 'c.png').write_bytes(b'\x89PNG\r\n\x1a\n not really a png')
    write_label_map(pred_dir / 'e.png', maps['a'])
    (pred_dir / 'notes.txt').write_text('ignored: not a label-map suffix')
    return gt_dir, pred_dir, maps


def test_scores_reports_and_writes_csv(folders, tmp_path):
    gt_dir, pred_dir, maps = folders
    out = tmp_path / 'out' / 'scores.csv'
    result = evaluate_folders(gt_dir, pred_dir, out_csv=out, legacy=True, progress=False)

    assert [row['image'] for row in result.rows] == ['a', 'b']
    assert result.missing_pred == ['d'] and result.missing_gt == ['e']
    assert list(result.failed) == ['c'] and 'c.png' in result.failed['c']
    assert result.num_problems == 3

    expected_a = nuclei_metrics(maps['a'], np.roll(maps['a'], 1, axis=0))
    assert {k: result.rows[0][k] for k in expected_a} == expected_a
    assert result.rows[0]['n_gt'] == result.rows[0]['n_pred'] == 7
    legacy_a = legacy_paper_metrics(maps['a'], np.roll(maps['a'], 1, axis=0))
    assert result.rows[0]['legacy/aji'] == legacy_a['aji']
    # Image b has an empty prediction: object Hausdorff is undefined and skipped.
    assert math.isnan(result.rows[1]['object_hausdorff'])
    assert result.nan_skipped['object_hausdorff'] == 1
    assert result.summary['object_hausdorff'] == expected_a['object_hausdorff']
    assert result.summary['aji'] == pytest.approx(expected_a['aji'] / 2)
    assert 'legacy/dice_aggregate' in result.summary

    with open(out, newline='') as handle:
        rows = list(csv.DictReader(handle))
    assert [r['image'] for r in rows] == ['a', 'b']
    assert float(rows[0]['aji']) == pytest.approx(expected_a['aji'])

    report = format_report(result)
    for text in ('object_hausdorff', 'GT without prediction (1): d', 'prediction without GT (1): e',
                 'failed (1):', 'c.png'):
        assert text in report


def test_missing_folder_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope'):
        evaluate_folders(tmp_path / 'nope', tmp_path, progress=False)


def _tool():
    spec = importlib.util.spec_from_file_location('eval_nuclei', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_exit_codes(folders, tmp_path, capsys):
    gt_dir, pred_dir, maps = folders
    tool = _tool()
    assert tool.main([str(gt_dir), str(pred_dir), '--no-progress']) == 1
    captured = capsys.readouterr()
    assert 'pixel_dice' in captured.out and '3 image(s) missing or not scored' in captured.err

    clean_pred = tmp_path / 'clean'
    write_label_map(clean_pred / 'a.png', maps['a'])
    clean_gt = tmp_path / 'clean_gt'
    write_label_map(clean_gt / 'a.tif', maps['a'])
    out = tmp_path / 'clean.csv'
    assert tool.main([str(clean_gt), str(clean_pred), '--out', str(out), '--no-progress']) == 0
    assert out.is_file()
    assert tool.main([str(tmp_path / 'missing'), str(clean_pred)]) == 2


def test_nothing_scored_is_an_error_with_the_reason(tmp_path, capsys):
    """Item 3 of issue 19: two empty folders (or no matching stem) used to exit 0."""
    tool = _tool()
    gt_dir, pred_dir = tmp_path / 'gt', tmp_path / 'pred'
    gt_dir.mkdir()
    pred_dir.mkdir()
    assert tool.main([str(gt_dir), str(pred_dir), '--no-progress']) == 1
    err = capsys.readouterr().err
    assert f'ERROR: nothing scored: {gt_dir}: no ground-truth label maps' in err
    write_label_map(gt_dir / 'a.png', _label_map(0))
    assert tool.main([str(gt_dir), str(pred_dir), '--no-progress']) == 1
    assert f'{pred_dir}: no predicted label maps' in capsys.readouterr().err
    write_label_map(pred_dir / 'b.png', _label_map(0))
    assert tool.main([str(gt_dir), str(pred_dir), '--no-progress']) == 1
    assert 'no prediction in' in capsys.readouterr().err


def test_infer_output_folder_is_scored_as_it_is(tmp_path, capsys):
    """Item 4 of issue 19: tools/infer.py's <stem>_labels.tif (with its overlay, GeoJSON and
    COCO files next to it) used to score nothing against GT <stem>.png."""
    gt_dir, pred_dir = tmp_path / 'gt', tmp_path / 'pred'
    maps = {stem: _label_map(k) for k, stem in enumerate(['img1', 'img2'])}
    for stem, lab in maps.items():
        write_label_map(gt_dir / f'{stem}.png', lab)
        write_label_map(pred_dir / f'{stem}_labels.tif', np.roll(lab, 1, axis=1))
        write_label_map(pred_dir / f'{stem}_overlay.png', np.ones((4, 4), np.int64))
        (pred_dir / f'{stem}.geojson').write_text('{}')
        (pred_dir / f'{stem}_coco.json').write_text('{}')
    result = evaluate_folders(gt_dir, pred_dir, progress=False)
    assert [row['image'] for row in result.rows] == ['img1', 'img2'] and not result.num_problems
    expected = nuclei_metrics(maps['img1'], np.roll(maps['img1'], 1, axis=1))
    assert result.rows[0]['aji'] == pytest.approx(expected['aji'])
    assert _tool().main([str(gt_dir), str(pred_dir), '--no-progress']) == 0

    write_label_map(pred_dir / 'img1.png', maps['img1'])  # two predictions for one image
    result = evaluate_folders(gt_dir, pred_dir, progress=False)
    assert 'two predictions for img1' in result.failed['img1']
    write_label_map(gt_dir / 'img2_labels.png', maps['img2'])  # a GT stem ending in _labels
    result = evaluate_folders(gt_dir, pred_dir, progress=False)
    assert {row['image'] for row in result.rows} == {'img2_labels'}
    assert result.missing_pred == ['img2']
