"""The MoNuSeg converter as a user runs it on the official archives; converter exit codes.

The archives are faked in a tmp dir with their published layout: the training
archive's folder holds ``Tissue Images/*.tif`` and ``Annotations/*.xml``, the
test archive's folder ``*.tif`` and ``*.xml`` side by side.

Only the first test runs the tool as a process; the others call its ``main`` in this process
(same arguments, exit status and stderr) so that they take seconds, not a Python start-up and
the OpenMMLab imports per conversion.
"""
import contextlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import List

import numpy as np
import pytest
import tifffile

from mmcyclic.datasets.io import read_label_map

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'dataset_converters' / 'monuseg.py'
TRAIN_IDS = [f'TCGA-A{i}-0000-01Z-00-DX1' for i in range(6)]
TEST_IDS = ['TCGA-T0-0000-01Z-00-DX1', 'TCGA-T1-0000-01Z-00-DX1']
TRAINING_ARCHIVE = 'MoNuSeg 2018 Training Data'


def _square_xml(boxes: List[tuple]) -> str:
    """Aperio XML with one square region per ``(x0, y0, side)``."""
    regions = ''.join(
        f'<Region Id="{k}"><Vertices><Vertex X="{x}" Y="{y}"/><Vertex X="{x + s}" Y="{y}"/>'
        f'<Vertex X="{x + s}" Y="{y + s}"/><Vertex X="{x}" Y="{y + s}"/></Vertices></Region>'
        for k, (x, y, s) in enumerate(boxes, 1))
    return (f'<Annotations><Annotation Id="1"><Regions>{regions}</Regions></Annotation>'
            '</Annotations>')


def _write(image_dir: Path, xml_dir: Path, sample_id: str, xml: str) -> None:
    image_dir.mkdir(parents=True, exist_ok=True)
    xml_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(sample_id))
    tifffile.imwrite(image_dir / f'{sample_id}.tif', rng.integers(0, 256, (64, 64, 3), np.uint8),
                     photometric='rgb')
    (xml_dir / f'{sample_id}.xml').write_text(xml)


@pytest.fixture
def archives(tmp_path) -> Path:
    """Both official archives, unzipped into one folder as the README says."""
    train = tmp_path / 'monuseg' / TRAINING_ARCHIVE
    for sample_id in TRAIN_IDS:
        _write(train / 'Tissue Images', train / 'Annotations', sample_id,
               _square_xml([(4, 4, 10), (30, 30, 12)]))
    test = tmp_path / 'monuseg' / 'MoNuSegTestData'
    for sample_id in TEST_IDS:
        _write(test, test, sample_id, _square_xml([(10, 10, 20)]))
    return tmp_path / 'monuseg'


def _convert_process(*args: str) -> subprocess.CompletedProcess:
    """Run the tool as the README says (a separate Python process)."""
    return subprocess.run([sys.executable, str(TOOL), '--patch-size', '64', *args], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def _tool_main():
    spec = importlib.util.spec_from_file_location('monuseg_converter_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _convert(*args: str) -> SimpleNamespace:
    """The tool's ``main`` in this process: ``returncode`` (its return value, or the
    ``SystemExit`` code of an argument error) and what it wrote to ``stderr``."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            code = _tool_main()(['--patch-size', '64', *args])
        except SystemExit as exit_:
            code = exit_.code
    return SimpleNamespace(returncode=code, stderr=stderr.getvalue())


def test_official_archives_convert_as_extracted(archives, tmp_path):
    """Item 6 of issue 19: the README's commands work on the official archives as unzipped."""
    out = tmp_path / 'official'
    proc = _convert_process('--from-xml', '--src', str(archives / TRAINING_ARCHIVE),
                            '--test-src', str(archives / 'MoNuSegTestData'), '--out', str(out))
    assert proc.returncode == 0, proc.stderr
    splits = json.loads((out / 'splits.json').read_text())
    assert splits['test'] == TEST_IDS
    assert sorted(splits['train'] + splits['val']) == TRAIN_IDS and len(splits['val']) == 4
    assert splits['skipped'] == {}
    for sample_id in TRAIN_IDS:
        assert read_label_map(out / 'labels' / f'{sample_id}.png').max() == 2
    test_map = read_label_map(out / 'labels' / f'{TEST_IDS[0]}.png')
    assert test_map.max() == 1 and (test_map > 0).sum() == 21 * 21  # outline pixels included


def test_src_may_be_the_folder_the_archive_was_unzipped_into(archives, tmp_path):
    """Item 6 of issue 19: --src ~/monuseg works while it holds one archive, and says what to
    pass when it holds both."""
    kumar = tmp_path / 'kumar'
    proc = _convert('--from-xml', '--src', str(archives), '--out', str(kumar))
    assert proc.returncode == 2 and 'several MoNuSeg folders' in proc.stderr
    shutil.move(str(archives / 'MoNuSegTestData'), str(tmp_path))
    proc = _convert('--from-xml', '--src', str(archives), '--splits',
                    str(_splits_file(tmp_path, TRAIN_IDS[:5], TRAIN_IDS[5:])),
                    '--num-val', '1', '--out', str(kumar))
    assert proc.returncode == 0, proc.stderr
    assert json.loads((kumar / 'splits.json').read_text())['test'] == TRAIN_IDS[5:]


def test_xml_only_source_without_from_xml_says_to_add_it(archives, tmp_path):
    """Item 6 of issue 19: the official archives have no label maps; the error names the fix."""
    proc = _convert('--src', str(archives / TRAINING_ARCHIVE), '--out', str(tmp_path / 'o'))
    assert proc.returncode == 2
    assert 'no label-map folder' in proc.stderr and 'add --from-xml' in proc.stderr
    assert 'Traceback' not in proc.stderr


def _splits_file(tmp_path: Path, train: List[str], test: List[str]) -> Path:
    path = tmp_path / 'kumar_splits.json'
    path.write_text(json.dumps({'kumar_train': train, 'kumar_test': test}))
    return path


def test_empty_test_split_is_an_error_with_the_reason(archives, tmp_path):
    """Item 3 of issue 19: every XML of the test split malformed used to exit 0."""
    for sample_id in TRAIN_IDS[4:]:
        (archives / TRAINING_ARCHIVE / 'Annotations' / f'{sample_id}.xml').write_text('<Annot')
    out = tmp_path / 'out'
    proc = _convert('--from-xml', '--src', str(archives / TRAINING_ARCHIVE), '--splits',
                    str(_splits_file(tmp_path, TRAIN_IDS[:4], TRAIN_IDS[4:])),
                    '--num-val', '1', '--out', str(out))
    assert proc.returncode == 1
    assert ('split "test" is empty: all 2 of its image(s) were skipped '
            "({'malformed_annotation': 2})") in proc.stderr
    assert 'conversion_log.json' in proc.stderr
    assert json.loads((out / 'splits.json').read_text())['train']  # the rest was written


def test_rerun_without_overwrite_names_the_fix(archives, tmp_path):
    """Item 5 of issue 19: a rerun into the same --out was a FileExistsError traceback."""
    args = ['--from-xml', '--src', str(archives / TRAINING_ARCHIVE), '--test-src',
            str(archives / 'MoNuSegTestData'), '--out', str(tmp_path / 'out')]
    assert _convert(*args).returncode == 0
    proc = _convert(*args)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert f'ERROR: {tmp_path / "out"} already holds converter output' in proc.stderr
    assert '--overwrite' in proc.stderr
    assert _convert(*args, '--overwrite').returncode == 0
