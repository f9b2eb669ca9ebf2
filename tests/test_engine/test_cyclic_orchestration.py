"""CyclicLoop's orchestration on a real Runner with stub units (no training: seconds).

The classifier run, seed extraction and self-training are stubs that record what they receive
(:mod:`mmcyclic.testing.cyclic_stubs`); the hand-back is real. The end-to-end runs in
``test_cyclic_loop.py`` (slow) train the real units.
"""
import json
import os.path as osp

import pytest
import torch
from mmengine.hooks import Hook

import mmcyclic  # noqa: F401
from mmcyclic.engine.loop_state import unwrap
from mmcyclic.testing.cyclic_stubs import (UNITS, CyclicStubs, Interrupted, classifier_weights,
                                           fill_values, stub_cyclic_cfg, student_weights,
                                           write_stub_inputs)
from mmcyclic.testing.toy_runner import MMCyclicToyModel, train_runner

# Expected stub values (see cyclic_stubs): classifier of cycle c: backbone 10c+1, head 10c+2;
# best student of cycle c: every tensor -c.


def _classifier_backbone(cycle):
    """The value every backbone tensor of the stub classifier of ``cycle`` holds."""
    return 10.0 * cycle + 1


def _classifier_head(cycle):
    """The value every head tensor of the stub classifier of ``cycle`` holds."""
    return 10.0 * cycle + 2


@pytest.fixture
def setup(tmp_path):
    """One image with ground truth and a classifier config (see ``write_stub_inputs``)."""
    return write_stub_inputs(str(tmp_path))


def _cfg(setup, work_dir, **kwargs):
    """The stub cyclic config on ``setup``'s inputs (keyword arguments: ``stub_cyclic_cfg``)."""
    return stub_cyclic_cfg(setup, str(work_dir), **kwargs)


def _state(work):
    """The loop's state file (``cyclic_state.json``) of a run in ``work``."""
    return json.loads((work / 'cyclic_state.json').read_text())


def _expected_order(cycles, last, skip=()):
    """Every unit of every cycle in Fig. 1 order, no hand-back after cycle ``last``."""
    return [(unit, c) for c in cycles for unit in UNITS
            if (unit, c) not in skip and not (unit == 'hand_back' and c == last)]


# mode -> (classifier backbone initialises self-training, best student's backbone goes to the
# next classifier); the module docstring's table, written out independently.
MODES = {'bilateral': (True, True), 'unilateral': (False, True), 'seeds_only': (False, False)}


@pytest.mark.parametrize('mode', list(MODES))
def test_units_run_in_order_and_receive_what_the_mode_says(setup, tmp_path, monkeypatch, mode):
    front_to_back, back_to_front = MODES[mode]
    stubs = CyclicStubs(val_dice=(0.5, 0.7, 0.6)).install(monkeypatch.setattr)
    work = tmp_path / 'work'
    runner = train_runner(_cfg(setup, work, mode=mode))

    assert stubs.order() == _expected_order([1, 2, 3], last=3)
    assert not (work / 'cycle_3' / 'next_classifier.pth').exists()
    classifier = {c: str(work / f'cycle_{c}' / 'classifier' / 'classifier.pth') for c in (1, 2, 3)}
    best = {c: str(work / f'cycle_{c}' / 'best_student.pth') for c in (1, 2, 3)}

    for c, got in stubs.details('classifier').items():
        assert got['work_dir'] == str(work / f'cycle_{c}' / 'classifier')
        assert got['resume'] is False and got['seed'] == 0 + 1000 * c
        assert got['hooks'][-1] == 'ReseedEpochHook'
        if c == 1:
            assert got['load_from'] is None and got['init_values'] is None
        elif back_to_front:
            # The previous classifier with the previous cycle's best student's backbone.
            assert got['load_from'] == str(work / f'cycle_{c - 1}' / 'next_classifier.pth')
            assert got['init_values'] == dict(backbone=-(c - 1.0), head=_classifier_head(c - 1))
        else:
            assert got['load_from'] == classifier[c - 1]
            assert got['init_values'] == dict(backbone=_classifier_backbone(c - 1),
                                              head=_classifier_head(c - 1))

    for c, got in stubs.details('seeds').items():
        assert got['classifier'] == classifier[c]  # fresh seeds from this cycle's classifier
        assert got['out'] == str(work / f'cycle_{c}' / 'seeds.json')
        assert got['relevance'] == dict(type='LRP') and got['image_ids'] == [1]

    for c, got in stubs.details('self_training').items():
        assert got['seed_file'] == str(work / f'cycle_{c}' / 'seeds.json')
        assert got['seed_file_cycle'] == c  # this cycle's seeds, already written
        assert got['backbone_checkpoint'] == (classifier[c] if front_to_back else None)
        assert got['initial_weights'] == str(work / 'initial_weights.pth')
        assert got['out_dir'] == f'cycle_{c}'
        assert got['options'] == dict(num_students=1, teacher_epochs=1, student_epochs=1,
                                      score_thr=0.05)

    for c, got in stubs.details('hand_back').items():
        assert (got['classifier_checkpoint'], got['best_checkpoint']) == (classifier[c], best[c])

    records = _state(work)['cycles']
    assert [r['cycle'] for r in records] == [1, 2, 3]
    assert [r['mode'] for r in records] == [mode] * 3
    assert [r['val_pixel_dice'] for r in records] == [0.5, 0.7, 0.6]
    assert records[0]['classifier']['f1-score'] == pytest.approx(0.8)
    assert records[0]['classifier']['top1'] == pytest.approx(0.75)
    assert records[2]['hand_back'] is None
    for c in (1, 2):
        hand_back = records[c - 1]['hand_back']
        if back_to_front:
            assert hand_back['checkpoint'] == str(work / f'cycle_{c}' / 'next_classifier.pth')
            assert hand_back['backbone_tensors'] == 2  # backbone weight and bias
        else:
            assert hand_back == dict(checkpoint=classifier[c], backbone_from=None,
                                     backbone_tensors=0)
    # Two stub phases of one epoch per cycle; the model ends as the best cycle's (Dice 0.7).
    assert runner.train_loop.epoch == 6 and runner.train_loop.cycle == 3
    model = unwrap(runner.model)
    expected = student_weights(MMCyclicToyModel(), 2)
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items())
    initial = torch.load(work / 'initial_weights.pth', map_location='cpu')['state_dict']
    assert not torch.equal(initial['backbone.weight'], expected['backbone.weight'])


@pytest.mark.parametrize('unit', UNITS)
def test_resume_skips_finished_units_and_redoes_the_unfinished_one(setup, tmp_path,
                                                                   monkeypatch, unit):
    """Killed in cycle 2's ``unit``; ``resume=True`` continues there and ends like an
    uninterrupted run."""
    work = tmp_path / 'work'
    killed = CyclicStubs(interrupt=(unit, 2)).install(monkeypatch.setattr)
    with pytest.raises(Interrupted):
        train_runner(_cfg(setup, work))
    done_before = UNITS[:UNITS.index(unit)]
    assert killed.order() == _expected_order([1], last=3) + [(u, 2) for u in UNITS
                                                             if u in done_before + (unit, )]
    state = _state(work)
    assert [r['cycle'] for r in state['cycles']] == [1]
    # Self-training is not a unit of the state file: it resumes inside SelfTrainingLoop.
    assert set(state['units'].get('2', {})) == {u for u in done_before if u != 'self_training'}

    resumed = CyclicStubs().install(monkeypatch.setattr)
    runner = train_runner(_cfg(setup, work, resume=True))
    finished = {(u, 2) for u in done_before if u != 'self_training'}
    assert resumed.order() == _expected_order([2, 3], last=3, skip=finished)
    if unit == 'classifier':  # the classifier's own run resumes from its last checkpoint
        assert resumed.details('classifier')[2]['resume'] is True
        assert resumed.details('classifier')[2]['load_from'] is None
    else:
        assert resumed.details('classifier')[3]['load_from'] == str(
            work / 'cycle_2' / 'next_classifier.pth')
    assert [r['cycle'] for r in _state(work)['cycles']] == [1, 2, 3]
    assert runner.train_loop.epoch == 6


def test_a_fresh_start_ignores_an_earlier_state(setup, tmp_path, monkeypatch):
    """Without resume, the state file of an earlier run is discarded: every unit runs."""
    work = tmp_path / 'work'
    CyclicStubs().install(monkeypatch.setattr)
    train_runner(_cfg(setup, work, max_cycles=2))
    stubs = CyclicStubs().install(monkeypatch.setattr)
    train_runner(_cfg(setup, work, max_cycles=2))
    assert stubs.order() == _expected_order([1, 2], last=2)


class StopAfterCycle(Hook):
    """Sets the loop's ``stop_training`` after a given cycle (what an early-stopping hook does)."""

    def __init__(self, cycle):
        self.cycle = cycle

    def after_cycle(self, runner, cycle, records):
        if cycle == self.cycle:
            runner.train_loop.stop_training = True


def test_stop_training_ends_the_loop_after_the_cycle(setup, tmp_path, monkeypatch):
    stubs = CyclicStubs(val_dice=(0.5, 0.4, 0.9)).install(monkeypatch.setattr)
    work = tmp_path / 'work'
    runner = train_runner(_cfg(setup, work, max_cycles=3), StopAfterCycle(2))
    # Cycle 2 is not the last configured one, so its hand-back was made before the stop.
    assert stubs.order() == _expected_order([1, 2], last=3)
    assert [r['cycle'] for r in _state(work)['cycles']] == [1, 2]
    assert not (work / 'cycle_3').exists()
    # The better of the two cycles run (cycle 1, Dice 0.5) is loaded.
    assert fill_values_of(unwrap(runner.model)) == dict(backbone=-1.0, head=-1.0)


def test_min_improvement_stops_when_dice_stalls(setup, tmp_path, monkeypatch):
    stubs = CyclicStubs(val_dice=(0.5, 0.52, 0.9)).install(monkeypatch.setattr)
    work = tmp_path / 'work'
    train_runner(_cfg(setup, work, max_cycles=3, min_improvement=0.05, patience=1))
    assert stubs.order() == _expected_order([1, 2], last=3)
    stubs = CyclicStubs(val_dice=(0.5, 0.6, 0.9)).install(monkeypatch.setattr)
    train_runner(_cfg(setup, tmp_path / 'work2', max_cycles=3, min_improvement=0.05,
                      patience=1))
    assert stubs.order() == _expected_order([1, 2, 3], last=3)


# Best validation Dice per cycle of the paper's Table III (bilateral, MoNuSeg, R152).
PAPER_TABLE_III_DICE = (0.7181, 0.7484, 0.7369, 0.7739, 0.7695)


def test_the_paper_table_iii_series_runs_past_its_dip_to_cycle_4(setup, tmp_path, monkeypatch):
    """Cycle 3 is below cycle 2, cycle 4 is the paper's best: patience 2 must reach it; the
    stall after it (cycle 5) is one cycle, so all five run; patience 1 stops after cycle 3."""
    stubs = CyclicStubs(val_dice=PAPER_TABLE_III_DICE).install(monkeypatch.setattr)
    train_runner(_cfg(setup, tmp_path / 'work', max_cycles=5, min_improvement=0.001))
    assert stubs.order() == _expected_order([1, 2, 3, 4, 5], last=5)
    stubs = CyclicStubs(val_dice=PAPER_TABLE_III_DICE).install(monkeypatch.setattr)
    train_runner(_cfg(setup, tmp_path / 'work1', max_cycles=5, min_improvement=0.001,
                      patience=1))
    assert stubs.order() == _expected_order([1, 2, 3], last=5)


@pytest.mark.parametrize('scores, min_improvement, expected', [
    (PAPER_TABLE_III_DICE, 0.001, 1), (PAPER_TABLE_III_DICE[:3], 0.001, 1),
    (PAPER_TABLE_III_DICE, 0.05, 4), ((0.5, 0.4, 0.45), 0.05, 2), ((0.5, None, 0.4), 0.05, 1),
    ((0.5, 0.549), 0.05, 1), ((0.5, 0.55), 0.05, 0), ((), 0.05, 0)])
def test_stalled_cycles_counts_from_the_best_so_far(scores, min_improvement, expected):
    from mmcyclic.engine.cyclic_loop import stalled_cycles
    assert stalled_cycles(list(scores), min_improvement) == expected


def fill_values_of(model):
    """Like :func:`fill_values`, for a model in memory."""
    out = {}
    for part in ('backbone', 'head'):
        values = torch.cat([p.detach().reshape(-1) for p in getattr(model, part).parameters()])
        assert bool((values == values[0]).all()), part
        out[part] = float(values[0])
    return out


def test_hand_back_moves_only_backbone_tensors(setup, tmp_path, monkeypatch):
    """Bilateral hand-back file: backbone of cycle 1's best student, head of cycle 1's
    classifier (checked tensor by tensor)."""
    CyclicStubs().install(monkeypatch.setattr)
    work = tmp_path / 'work'
    train_runner(_cfg(setup, work, max_cycles=2))
    handed = torch.load(work / 'cycle_1' / 'next_classifier.pth', map_location='cpu')
    model = MMCyclicToyModel()
    student, classifier = student_weights(model, 1), classifier_weights(model, 1)
    assert handed['state_dict'].keys() == classifier.keys()
    for key, value in handed['state_dict'].items():
        source = student if key.startswith('backbone.') else classifier
        assert torch.equal(value, source[key]), key
    assert handed['meta']['cycle'] == 2 and handed['meta']['backbone_tensors'] == 2
    assert osp.samefile(handed['meta']['backbone_from'], work / 'cycle_1' / 'best_student.pth')
    assert fill_values(str(work / 'cycle_1' / 'next_classifier.pth')) == dict(
        backbone=-1.0, head=_classifier_head(1))
