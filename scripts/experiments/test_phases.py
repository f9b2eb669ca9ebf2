"""Test every phase checkpoint of a cyclic run (the paper's Table III: the teacher and every
student of every cycle), on the config's test images.

    python scripts/experiments/test_phases.py CONFIG WORK_DIR [--cfg-options ...]

For each ``WORK_DIR/cycle_<i>/<phase>/checkpoint.pth`` writes
``WORK_DIR/phase_tests/cycle_<i>/<phase>/metrics.json`` (and the per-image CSV) with
``tools/test.py``; phases tested earlier are skipped, so an interrupted run resumes. The
metrics include the legacy (official-code) columns where the config's test evaluator has
``legacy=True``.
"""
import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def phase_checkpoints(work_dir: Path):
    """``(cycle, phase, checkpoint)`` of every finished phase, in order."""
    found = []
    for cycle_dir in sorted(work_dir.glob('cycle_*'), key=lambda p: int(p.name.split('_')[1])):
        for checkpoint in sorted(cycle_dir.glob('*/checkpoint.pth'),
                                 key=lambda p: (p.parent.name != 'teacher', p.parent.name)):
            found.append((int(cycle_dir.name.split('_')[1]), checkpoint.parent.name, checkpoint))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('work_dir', type=Path)
    parser.add_argument('--cfg-options', nargs='*', default=[])
    args = parser.parse_args()
    checkpoints = phase_checkpoints(args.work_dir)
    if not checkpoints:
        sys.exit(f'ERROR: {args.work_dir}: no cycle_<i>/<phase>/checkpoint.pth to test')
    for cycle, phase, checkpoint in checkpoints:
        out = args.work_dir / 'phase_tests' / f'cycle_{cycle}' / phase
        if (out / 'metrics.json').exists():
            continue
        print(f'== test cycle {cycle} {phase}', flush=True)
        command = [sys.executable, 'tools/test.py', args.config, str(checkpoint), '--work-dir',
                   str(out), '--out-dir', str(out)]
        if args.cfg_options:
            command += ['--cfg-options'] + args.cfg_options
        result = subprocess.run(command, cwd=REPO)
        if result.returncode:
            sys.exit(f'ERROR: testing {checkpoint} failed (exit {result.returncode})')


if __name__ == '__main__':
    main()
