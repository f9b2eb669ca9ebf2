"""Bad inputs in a MoNuSeg-layout folder: each is reported by file name, the rest converted.

Covers a truncated TIFF, a 2-point polygon, a malformed XML, an image without
any annotation and a missing annotation file.
"""
import json
import logging

import numpy as np
import tifffile

from mmcyclic.datasets.converters.monuseg import convert_monuseg
from mmcyclic.datasets.converters.writer import format_summary
from mmcyclic.datasets.io import read_label_map


def _xml(polygons):
    regions = ''.join(
        f'<Region Id="{i + 1}"><Vertices>'
        + ''.join(f'<Vertex X="{x}" Y="{y}"/>' for x, y in poly)
        + '</Vertices></Region>' for i, poly in enumerate(polygons))
    return (f'<Annotations><Annotation Id="1"><Regions>{regions}</Regions></Annotation>'
            '</Annotations>')


def _fake_monuseg(root):
    images, xmls = root / 'train/images', root / 'train/annotations'
    images.mkdir(parents=True)
    xmls.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ('good', 'twopoint', 'empty', 'truncated', 'malformed', 'noxml'):
        tifffile.imwrite(images / f'{name}.tif', rng.integers(0, 255, (64, 64, 3), np.uint8),
                         compression='lzw')
    square = [(5, 5), (20, 5), (20, 20), (5, 20)]
    (xmls / 'good.xml').write_text(_xml([square, [(30, 30), (40, 30), (40, 45)]]))
    (xmls / 'twopoint.xml').write_text(_xml([square, [(30, 30), (40, 40)],
                                             [(30, 30), (40, 40), (30, 30)]]))
    (xmls / 'empty.xml').write_text(_xml([]))
    (xmls / 'truncated.xml').write_text(_xml([square]))
    (xmls / 'malformed.xml').write_text('<Annotations><Region Id="1"><Vertices>')
    data = (images / 'truncated.tif').read_bytes()
    (images / 'truncated.tif').write_bytes(data[:len(data) // 2])
    ids = ['good', 'twopoint', 'empty', 'truncated', 'malformed', 'noxml']
    (root / 'splits.json').write_text(json.dumps({'kumar_train': ids[:4], 'kumar_test': ids[4:]}))


def test_bad_inputs_are_reported_and_skipped(tmp_path, caplog):
    src, out = tmp_path / 'src', tmp_path / 'out'
    _fake_monuseg(src)
    with caplog.at_level(logging.WARNING):
        log = convert_monuseg(src, out, from_xml=True, num_val=0, progress=False)
    images = log['images']
    # Truncated TIFF: skipped, the message names the file.
    assert images['truncated']['status'] == 'skipped'
    assert images['truncated']['reason'] == 'unreadable'
    assert 'truncated.tif' in images['truncated']['message']
    # Malformed XML: skipped with a clear message naming the file.
    assert images['malformed']['reason'] == 'malformed_annotation'
    assert 'malformed.xml' in images['malformed']['message']
    assert 'malformed XML' in images['malformed']['message']
    # No XML at all.
    assert images['noxml']['reason'] == 'missing_annotation'
    assert 'noxml' in images['noxml']['message']
    # 2-point polygon (and a 3-vertex polygon with 2 distinct points): skipped and counted.
    counts = images['twopoint']['counts']
    assert counts['skipped_too_few_points'] == 2 and images['twopoint']['instances'] == 1
    assert any('twopoint.xml' in m and 'region 2' in m for m in images['twopoint']['messages'])
    # No annotation: kept, logged, counted.
    assert images['empty']['status'] == 'written' and images['empty']['instances'] == 0
    assert log['images_without_annotation'] == ['empty']
    assert read_label_map(out / 'labels/empty.png').max() == 0
    # The rest is processed.
    assert images['good']['instances'] == 2
    summary = log['summary']
    assert summary['images_written'] == 3 and summary['images_skipped'] == 3
    assert summary['converter_counts']['skipped_too_few_points'] == 2
    assert any('truncated.tif' in r.getMessage() for r in caplog.records)
    text = format_summary(log)
    assert 'truncated' in text and 'malformed.xml' in text and 'skipped_too_few_points' in text
    splits = json.loads((out / 'splits.json').read_text())
    assert splits['skipped'] == {'truncated': 'unreadable', 'malformed': 'malformed_annotation',
                                 'noxml': 'missing_annotation'}
