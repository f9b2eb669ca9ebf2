"""tools/infer.py -> tools/eval_nuclei.py gives tools/test.py's numbers on the same images."""
import csv
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
import torch

from mmcyclic.apis import NucleiSegmenter
from mmcyclic.evaluation.folder_eval import METRIC_KEYS

from apis_helpers import R18_CONFIG

REPO = Path(__file__).resolve().parents[2]


def _tool(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / 'tools' / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows(path: Path) -> Dict[str, Dict[str, str]]:
    with open(path, newline='') as handle:
        return {row['image']: row for row in csv.DictReader(handle)}


@pytest.fixture(scope='module')
def confident_checkpoint(tmp_path_factory) -> Path:
    """Random R18 weights whose boxes score about 0.6, so that the 0.5 threshold keeps many."""
    torch.manual_seed(1)
    model = NucleiSegmenter(R18_CONFIG).model
    with torch.no_grad():
        model.roi_head.bbox_head.fc_cls.bias[0] += 0.5
    path = tmp_path_factory.mktemp('ckpt') / 'confident.pth'
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def test_infer_then_eval_equals_tools_test(tiny_synthetic, confident_checkpoint, tmp_path):
    """Item 4 of issue 19: eval_nuclei scored nothing on infer's <stem>_labels.tif output."""
    data = ['test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
            f'test_dataloader.dataset.data_root={tiny_synthetic}/']
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', str(R18_CONFIG), str(confident_checkpoint),
         '--work-dir', str(tmp_path / 'work'), '--out-dir', str(tmp_path / 'test_out'),
         '--cfg-options', *data], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = _rows(tmp_path / 'test_out' / 'nuclei_per_image.csv')

    test_ids = json.loads((tiny_synthetic / 'splits.json').read_text())['test']
    assert sorted(expected) == sorted(test_ids)
    for sample_id in test_ids:
        (tmp_path / 'gt').mkdir(exist_ok=True)
        shutil.copy(tiny_synthetic / 'labels' / f'{sample_id}.png', tmp_path / 'gt')
    images = [str(tiny_synthetic / 'images' / f'{sample_id}.png') for sample_id in test_ids]
    assert _tool('infer').main([str(R18_CONFIG), str(confident_checkpoint), *images, '--out',
                                str(tmp_path / 'pred'), '--format', 'labels,geojson,overlay',
                                # tools/test.py scores every instance the model returns
                                '--min-area', '1', '--no-progress']) == 0
    assert _tool('eval_nuclei').main([str(tmp_path / 'gt'), str(tmp_path / 'pred'), '--out',
                                      str(tmp_path / 'eval.csv'), '--no-progress']) == 0
    scored = _rows(tmp_path / 'eval.csv')
    assert sorted(scored) == sorted(expected)
    assert all(int(row['n_pred']) > 0 for row in scored.values())  # not two empty predictions
    for image, row in scored.items():
        for key in METRIC_KEYS:
            assert float(row[key]) == pytest.approx(float(expected[image][key]), abs=1e-9,
                                                    nan_ok=True), (image, key)
