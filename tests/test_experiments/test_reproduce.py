"""`make reproduce` (scripts/experiments/reproduce.py) and its page: rows, reuse, a smoke run."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'scripts' / 'experiments'))

import reproduce  # noqa: E402
import reproduction_page  # noqa: E402


def test_rows_cover_the_protocol_and_every_reuse_source_runs_first():
    table = reproduce.rows([0, 1, 2])
    assert set(table) == set(reproduce.ROW_NAMES)
    t4 = [run.name for run in table['t4']]
    assert t4 == [f'cyclic_{mode}_seed{s}' for s in (0, 1, 2) for mode in reproduce.MODES]
    assert {run.name for run in table['t1']} >= {'full_hovernet_seed0', 'cyclic_bilateral_seed2'}
    order = [run.name for row in reproduce.ROW_NAMES for run in table[row]]
    for row in table.values():
        for run in row:
            if run.reuse:
                assert order.index(run.reuse[0]) < order.index(run.name), run.name
    # every config a row names exists
    for run in (r for row in table.values() for r in row):
        assert (REPO / reproduce.CONFIGS / run.config).is_file(), run.config


def _fake_cyclic_run(work: Path) -> None:
    """A cyclic work dir with a finished cycle 1 whose records name its own paths."""
    (work / 'cycle_1' / 'classifier').mkdir(parents=True)
    (work / 'cycle_1' / 'teacher').mkdir()
    (work / 'cycle_1' / 'classifier' / 'classifier.pth').write_bytes(b'classifier')
    (work / 'cycle_1' / 'teacher' / 'checkpoint.pth').write_bytes(b'teacher')
    (work / 'initial_weights.pth').write_bytes(b'init')
    (work / 'cycle_1' / 'seeds.json').write_text(json.dumps({'info': {'cycle': 1}}))
    teacher = str(work / 'cycle_1/teacher/checkpoint.pth')
    (work / 'cycle_1' / 'state.json').write_text(json.dumps(
        {'phases': [{'name': 'teacher', 'checkpoint': teacher}]}))
    record = dict(cycle=1,
                  classifier=dict(checkpoint=str(work / 'cycle_1/classifier/classifier.pth')),
                  seeds=dict(file=str(work / 'cycle_1/seeds.json')))
    (work / 'cyclic_state.json').write_text(json.dumps(dict(cycles=[record], units={})))


def test_reuse_takes_the_finished_cycle_one_units_with_paths_of_the_new_run(tmp_path):
    source, target = tmp_path / 'bilateral', tmp_path / 'unilateral'
    _fake_cyclic_run(source)
    reproduce.reuse_cycle_one(source, target, ('classifier', 'seeds'))
    state = json.loads((target / 'cyclic_state.json').read_text())
    assert state['cycles'] == [] and set(state['units']['1']) == {'classifier', 'seeds'}
    assert state['units']['1']['classifier']['checkpoint'] == str(
        target / 'cycle_1/classifier/classifier.pth')
    assert (target / 'cycle_1/classifier/classifier.pth').read_bytes() == b'classifier'
    assert not (target / 'cycle_1' / 'teacher').exists()  # self-training is not reused here
    assert json.loads((target / 'reused.json').read_text())['source'] == 'bilateral'
    # with the self-training too: its state names the new run's checkpoints
    both = tmp_path / 'seeds_only'
    reproduce.reuse_cycle_one(source, both, ('classifier', 'seeds', 'self_training'))
    phases = json.loads((both / 'cycle_1' / 'state.json').read_text())['phases']
    assert phases[0]['checkpoint'] == str(both / 'cycle_1/teacher/checkpoint.pth')
    # a started run is left alone; an unfinished source is an error naming it
    (target / 'cyclic_state.json').write_text('{"cycles": [], "units": {}}')
    reproduce.reuse_cycle_one(source, target, ('classifier', 'seeds'))
    assert json.loads((target / 'cyclic_state.json').read_text())['units'] == {}
    with pytest.raises(SystemExit, match='has not finished'):
        reproduce.reuse_cycle_one(tmp_path / 'missing', tmp_path / 'x', ('classifier',))


@pytest.mark.parametrize('better, worse, word', [
    ([0.5, 0.52, 0.51], [0.40, 0.41, 0.42], 'reproduced'),
    ([0.40, 0.41, 0.42], [0.5, 0.52, 0.51], 'not reproduced'),
    ([0.5, 0.3, 0.4], [0.45, 0.35, 0.42], 'inconclusive')])
def test_verdicts_weigh_the_difference_against_the_spread(better, worse, word):
    assert reproduction_page.verdict(better, worse).startswith(word)


def test_the_converged_budget_is_the_first_within_the_tolerance_of_twice_it():
    curve = [(4, 0.30), (8, 0.35), (12, 0.36), (16, 0.355), (24, 0.36)]
    assert reproduction_page.converged_budget(curve) == 8  # 0.35 vs 0.355 at 16
    assert reproduction_page.converged_budget([(4, 0.1), (8, 0.3)]) is None


@pytest.mark.slow
def test_a_smoke_budget_runs_row_t1_skips_it_the_second_time_and_fills_the_page(
        tiny_synthetic, tmp_path):
    sys.path.insert(0, str(REPO / 'tests'))
    from cyclic_test_utils import simulated_tiles
    tiles = simulated_tiles(tiny_synthetic, tmp_path / 'tiles')
    command = [sys.executable, 'scripts/experiments/reproduce.py', '--rows', 't1', '--seeds',
               '0', '--smoke', '--out', str(tmp_path / 'runs'), '--data-root',
               str(tiny_synthetic), '--tiles-root', str(tiles)]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1500)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    runs = tmp_path / 'runs'
    for name in ('full_hovernet_seed0', 'cyclic_bilateral_seed0'):
        assert (runs / name / 'test' / 'metrics.json').is_file(), name
        assert json.loads((runs / name / 'test' / 'run.json').read_text())['seed'] == 0
    assert (runs / 'cyclic_bilateral_seed0' / 'phase_tests' / 'cycle_2' / 'teacher'
            / 'metrics.json').is_file()
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0 and second.stdout.count(': done') == 2, second.stdout
    page = tmp_path / 'page.md'
    subprocess.run([sys.executable, 'scripts/experiments/reproduction_page.py', '--out',
                    str(runs), '--page', str(page), '--images', str(tmp_path / 'images')],
                   cwd=REPO, check=True, timeout=300)
    text = page.read_text()
    assert '## T1/II' in text and 'not run' in text  # t4's other modes have not run
    assert (tmp_path / 'images' / 'reproduction_t4.png').is_file()
