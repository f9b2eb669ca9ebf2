"""The shared writer: layout of docs/data_format.md, COCO fields, negatives, overwrite."""
import json

import numpy as np
import pytest

from mmcyclic.datasets.coco_format import annotations_to_label_map
from mmcyclic.datasets.converters.writer import Loaded, Sample, Skip, format_summary, write_dataset
from mmcyclic.datasets.io import ImageReadError, read_image, read_label_map
from mmcyclic.datasets.patches import crop_patch


def _blobs(shape, seed):
    rng = np.random.default_rng(seed)
    lm = np.zeros(shape, np.int64)
    for k in range(1, 30):
        y, x = rng.integers(0, shape[0]), rng.integers(0, shape[1])
        lm[max(y - 5, 0):y + 5, max(x - 6, 0):x + 6] = k * 3  # sparse ids, overlaps overwrite
    image = rng.integers(0, 255, shape + (3, ), dtype=np.uint8)
    return image, lm


def _by_image(coco):
    groups = {img['id']: [] for img in coco['images']}
    for ann in coco['annotations']:
        groups[ann['image_id']].append(ann)
    return groups


def test_layout_and_coco_consistency(tmp_path):
    image, lm = _blobs((300, 520), 0)
    empty_image = np.full((300, 520, 3), 200, np.uint8)
    log = write_dataset([('img_a', image, lm, 'train'),
                         ('img_b', empty_image, np.zeros((300, 520), int), 'test')],
                        tmp_path, name='t', progress=False)
    for rel in ('images/img_a.png', 'labels/img_a.png', 'patches/img_a_p0.png',
                'patches/img_a_p5.png', 'splits.json', 'conversion_log.json',
                'annotations/instances_train.json', 'annotations/instances_train_full.json',
                'annotations/instances_val.json', 'annotations/instances_test_full.json'):
        assert (tmp_path / rel).is_file(), rel
    np.testing.assert_array_equal(read_image(tmp_path / 'images/img_a.png'), image)
    written = read_label_map(tmp_path / 'labels/img_a.png')
    # Relabelled 1..n in source order: same partition, fewer ids.
    assert written.max() == len(np.unique(lm)) - 1
    assert len(np.unique(np.stack([lm, written]).reshape(2, -1), axis=1)[0]) == written.max() + 1
    full = json.loads((tmp_path / 'annotations/instances_train_full.json').read_text())
    assert full['categories'] == [{'id': 1, 'name': 'nucleus'}]
    (img_rec, ), anns = full['images'], full['annotations']
    assert img_rec['file_name'] == 'images/img_a.png' and img_rec['patch_origin'] == [0, 0]
    assert img_rec['source_id'] == 'img_a' and img_rec['source_shape'] == [300, 520]
    assert img_rec['label_map'] == 'labels/img_a.png'
    np.testing.assert_array_equal(annotations_to_label_map(anns, 300, 520), written)
    patches = json.loads((tmp_path / 'annotations/instances_train.json').read_text())
    assert len(patches['images']) == 2 * 3  # rows 0, 44; cols 0, 132, 264
    groups = _by_image(patches)
    for rec in patches['images']:
        x0, y0 = rec['patch_origin']
        expected = crop_patch(written, (x0, y0), 256)
        got = annotations_to_label_map(groups[rec['id']], rec['height'], rec['width'])
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(read_image(tmp_path / rec['file_name']),
                                      crop_patch(image, (x0, y0), 256))
    assert log['summary']['images_without_annotation'] == 1
    assert log['images']['img_b']['status'] == 'written'
    assert 'no annotated nucleus' in ' '.join(log['images']['img_b']['messages'])
    splits = json.loads((tmp_path / 'splits.json').read_text())
    assert splits['train'] == ['img_a'] and splits['test'] == ['img_b'] and splits['val'] == []
    assert 'seed' in splits


def test_failures_are_reported_and_the_rest_is_written(tmp_path):
    image, lm = _blobs((64, 64), 1)

    def unreadable():
        raise ImageReadError('/x/broken.tif: cannot read TIFF')

    samples = [Sample('bad', 'train', unreadable, source='/x/broken.tif'),
               Skip('lonely', 'unmatched_image', '/x/lonely.png: no label map'),
               Sample('mismatch', 'train', lambda: Loaded(image, lm[:10])),
               Sample.from_arrays('good', image, lm, 'val'),
               Sample.from_arrays('good', image, lm, 'val'),
               Sample.from_arrays('bad/id', image, lm, 'val')]
    log = write_dataset(samples, tmp_path, name='t', progress=False)
    summary = log['summary']
    assert summary['images_written'] == 1
    assert summary['image_skips_by_reason'] == {
        'bad_id': 1, 'duplicate_id': 1, 'shape_mismatch': 1, 'unmatched_image': 1,
        'unreadable': 1}
    assert '/x/broken.tif' in log['images']['bad']['message']
    text = format_summary(log)
    assert 'broken.tif' in text and 'lonely' in text


def test_refuses_to_overwrite_and_removes_stale_files(tmp_path):
    image, lm = _blobs((64, 64), 2)
    write_dataset([('a', image, lm, 'train'), ('b', image, lm, 'train')], tmp_path, 't',
                  progress=False)
    with pytest.raises(FileExistsError, match='overwrite'):
        write_dataset([('a', image, lm, 'train')], tmp_path, 't', progress=False)
    write_dataset([('a', image, lm, 'train')], tmp_path, 't', overwrite=True, progress=False)
    assert not (tmp_path / 'images/b.png').exists()
    assert not (tmp_path / 'patches/b_p0.png').exists()
    assert (tmp_path / 'images/a.png').exists()


def test_min_area_removes_from_label_map_and_coco(tmp_path):
    image = np.zeros((40, 40, 3), np.uint8)
    lm = np.zeros((40, 40), np.int64)
    lm[0:10, 0:10] = 1
    lm[20, 20] = 2
    log = write_dataset([('a', image, lm, 'train')], tmp_path, 't', min_area=2, progress=False)
    assert log['summary']['removed_below_min_area'] == 1 and log['summary']['instances'] == 1
    assert read_label_map(tmp_path / 'labels/a.png').max() == 1


def _unreadable():
    raise ImageReadError('/x/broken.tif: cannot read TIFF')


def test_a_run_that_converts_no_image_leaves_the_output_folder_as_it_was(tmp_path, capsys):
    """Issue 27 item 10: it left annotations/ and splits.json and printed "written to ..."
    before its ERROR, so the rerun needed --overwrite."""
    from mmcyclic.datasets.converters.cli import EXIT_EMPTY_SPLIT, run_conversion
    out = tmp_path / 'out'
    samples = [Sample('bad', 'train', _unreadable, source='/x/broken.tif')]
    code = run_conversion(lambda: write_dataset(samples, out, 't', progress=False), str(out))
    captured = capsys.readouterr()
    assert code == EXIT_EMPTY_SPLIT
    assert list(tmp_path.iterdir()) == []  # no output folder, no temporary folder
    assert 'written to' not in captured.out
    assert 'nothing was written to' in captured.err and 'broken.tif' in captured.out
    image, lm = _blobs((64, 64), 3)
    assert run_conversion(lambda: write_dataset([('a', image, lm, 'train')], out, 't',
                                                progress=False), str(out)) == 0  # no --overwrite
    assert (out / 'images' / 'a.png').is_file()


def test_an_interrupted_run_leaves_the_earlier_conversion_whole(tmp_path):
    image, lm = _blobs((64, 64), 4)
    write_dataset([('a', image, lm, 'train')], tmp_path / 'out', 't', progress=False)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*'))

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_dataset([('b', image, lm, 'train'), Sample('c', 'train', interrupted)],
                      tmp_path / 'out', 't', overwrite=True, progress=False)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*')) == before


def test_a_full_disk_is_one_error_line_and_leaves_no_output(tmp_path, monkeypatch, capsys):
    """Issue 27 item 12: a full disk was a raw traceback."""
    import errno
    import os

    import mmcyclic.utils.atomic as atomic
    from mmcyclic.datasets.converters.cli import run_conversion

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(atomic.os, 'fsync', disk_full)
    image, lm = _blobs((64, 64), 5)
    out = tmp_path / 'out'
    assert run_conversion(lambda: write_dataset([('a', image, lm, 'train')], out, 't',
                                                progress=False), str(out)) == 1
    err = capsys.readouterr().err
    assert err.startswith('ERROR: ') and 'no space left on the device' in err
    assert len(err.strip().splitlines()) == 1 and f'Nothing was written to {out}' in err
    assert list(tmp_path.iterdir()) == []
