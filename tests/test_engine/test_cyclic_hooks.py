"""The cyclic loop's hooks on a real Runner with the toy model (no real training: seconds)."""
import json

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook

import mmcyclic  # noqa: F401
from mmcyclic.testing.cyclic_stubs import CyclicStubs, stub_cyclic_cfg, write_stub_inputs
from mmcyclic.testing.toy_runner import toy_runner_cfg, train_runner


class DrawAtEpochStart(Hook):
    """Draws from torch's and numpy's generators at the start of every epoch, after the
    hooks of higher priority (ReseedEpochHook is VERY_HIGH)."""

    def __init__(self):
        self.draws = []

    def before_train_epoch(self, runner):
        self.draws.append((runner.epoch, torch.rand(3).tolist(), np.random.rand(3).tolist()))


def _expected_draws(seed, epochs):
    """What the generators give right after ``set_random_seed(seed + epoch)``."""
    out = []
    for epoch in range(epochs):
        generator = torch.Generator().manual_seed(seed + epoch)
        out.append((epoch, torch.rand(3, generator=generator).tolist(),
                    np.random.RandomState(seed + epoch).rand(3).tolist()))
    return out


def test_reseed_epoch_hook_makes_each_epoch_depend_on_seed_and_epoch_only(tmp_path):
    probe = DrawAtEpochStart()
    cfg = toy_runner_cfg(tmp_path / 'w', max_epochs=3, randomness=dict(seed=7),
                         custom_hooks=[dict(type='ReseedEpochHook')])
    train_runner(cfg, probe)
    assert probe.draws == _expected_draws(7, 3)
    # Without the hook the generators run on from training: other numbers.
    probe = DrawAtEpochStart()
    train_runner(toy_runner_cfg(tmp_path / 'w2', max_epochs=3, randomness=dict(seed=7)), probe)
    assert [d[1] for d in probe.draws[1:]] != [d[1] for d in _expected_draws(7, 3)[1:]]


class ReadBestStudentPointer(Hook):
    """After each cycle, after the hooks under test: the contents of best_student.json."""

    def __init__(self):
        self.pointers = []

    def after_cycle(self, runner, cycle, records):
        with open(f'{runner.work_dir}/best_student.json') as handle:
            self.pointers.append(json.load(handle))


@pytest.fixture
def hooked_run(tmp_path, monkeypatch):
    """Three stub cycles (validation Dice 0.5, 0.7, 0.6) with the cyclic hooks; every image
    gets two seeds: one equal to ground-truth nucleus 1 (9 px), one on background (4 px)."""
    seeds = np.zeros((8, 8), np.int32)
    seeds[0:3, 0:3] = 1
    seeds[0:2, 6:8] = 2
    CyclicStubs(val_dice=(0.5, 0.7, 0.6), seed_map=seeds).install(monkeypatch.setattr)
    work = tmp_path / 'work'
    probe = ReadBestStudentPointer()
    hooks = [dict(type='SeedReportHook'), dict(type='CyclicBestStudentHook'),
             dict(type='CyclicSummaryHook')]
    cfg = stub_cyclic_cfg(write_stub_inputs(str(tmp_path)), str(work), custom_hooks=hooks)
    train_runner(cfg, probe)
    return work, probe


# Seeds vs. ground truth of the one image, by hand: 2 seeds, 2 nuclei, 1 match (IoU 1);
# 9 of the 13 seed pixels on a nucleus; the background seed's centroid is off every nucleus.
SEED_QUALITY = dict(seeds=2, gt=2, matched=1, precision=0.5, recall=0.5, mean_iou=1.0,
                    pixel_precision=9 / 13, hit_rate=0.5)


def test_seed_report_hook_scores_each_cycles_seeds(hooked_run):
    work, _ = hooked_run
    for cycle in (1, 2, 3):
        report = json.loads((work / f'cycle_{cycle}' / 'seed_quality.json').read_text())
        assert {k: report['summary'][k] for k in SEED_QUALITY} == pytest.approx(SEED_QUALITY)
        assert set(report['per_image']) == {'img1'}
        assert (work / f'cycle_{cycle}' / 'seed_quality.md').is_file()


def test_best_student_hook_keeps_the_best_cycle_so_far(hooked_run):
    work, probe = hooked_run
    assert [(p['cycle'], p['val_pixel_dice']) for p in probe.pointers] == [
        (1, 0.5), (2, 0.7), (2, 0.7)]
    assert probe.pointers[-1]['checkpoint'] == str(work / 'cycle_2' / 'best_student.pth')
    assert probe.pointers[-1]['selected'] == 'student_1'
    assert (work / 'best_student.pth').read_bytes() == \
        (work / 'cycle_2' / 'best_student.pth').read_bytes()


def test_summary_hook_writes_one_row_per_cycle(hooked_run):
    work, _ = hooked_run
    summary = json.loads((work / 'summary.json').read_text())
    assert summary['best_cycle'] == 2
    rows = summary['cycles']
    assert [r['cycle'] for r in rows] == [1, 2, 3]
    assert [r['dice'] for r in rows] == pytest.approx([0.5, 0.7, 0.6])
    assert [r['aji'] for r in rows] == pytest.approx([0.5 / 3, 0.7 / 3, 0.6 / 3])
    assert [r['selected'] for r in rows] == ['student_1'] * 3
    assert [[p['name'] for p in r['phases']] for r in rows] == [['teacher', 'student_1']] * 3
    assert rows[0]['phases'][0]['dice'] == pytest.approx(0.25)
    assert rows[0]['hd_obj'] is None  # not reported: null, not NaN
    for row in rows:
        assert row['classifier_f1'] == pytest.approx(0.8)  # 80 % as mmpretrain reports it
        assert row['seeds'] == 2 and row['seed_source'] == 'relevance'
        assert (row['seed_precision'], row['seed_recall']) == (0.5, 0.5)
        assert row['seed_pixel_precision'] == pytest.approx(9 / 13)
    assert rows[2]['hand_back'] is None and rows[0]['hand_back']['backbone_tensors'] == 2
    assert (work / 'summary.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
