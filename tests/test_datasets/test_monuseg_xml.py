"""Aperio XML rasterisation rules: clipping, self-intersection, overlaps, bad files."""
import numpy as np
import pytest

from mmcyclic.datasets.converters.monuseg_xml import (parse_aperio_xml, polygons_to_label_map,
                                                      self_intersects)
from mmcyclic.datasets.converters.writer import ConversionError


def _poly(points):
    return np.asarray(points, dtype=float)


def test_rules_and_counts():
    polygons = [
        ('1', _poly([(2, 2), (12, 2), (12, 12), (2, 12)])),       # plain square
        ('2', _poly([(8, 8), (18, 8), (18, 18), (8, 18)])),       # overlaps square 1
        ('3', _poly([(25, 2), (45, 2), (45, 8)])),                # leaves the image: clipped
        ('4', _poly([(20, 20), (30, 30), (30, 20), (20, 30)])),   # bow tie: self-intersecting
        ('5', _poly([(100, 100), (110, 100), (110, 110)])),       # entirely outside
        ('6', _poly([(3, 3), (4, 3)])),                           # 2 points
        ('7', _poly([(5, 5), (6, 5), (7, 5)])),                   # collinear: zero area
        ('8', _poly([(4, 4), (10, 4), (10, 10), (4, 10)])),       # inside square 1: covered
    ]
    lm, counts, messages = polygons_to_label_map(polygons, 40, 40, 'f.xml')
    assert counts['regions'] == 8
    assert counts['skipped_outside_image'] == 1 and counts['skipped_too_few_points'] == 1
    assert counts['skipped_zero_area'] == 1 and counts['skipped_fully_overlapped'] == 1
    assert counts['clipped_to_image'] == 1 and counts['self_intersecting_rasterised'] == 1
    assert counts['overlapping_polygons'] == 2
    skipped = sum(v for k, v in counts.items() if k.startswith('skipped_'))
    assert lm.max() == 8 - skipped == 4
    assert lm[10, 10] == 1  # the earlier polygon keeps the overlap
    assert lm[15, 15] == 2
    assert (lm[:, 39] == 3).any() and lm[25, 21] == 4 and lm[25, 29] == 4
    assert all('f.xml: region' in m for m in messages)


def test_self_intersection_detection():
    assert self_intersects(_poly([(0, 0), (2, 2), (2, 0), (0, 2)]))
    assert not self_intersects(_poly([(0, 0), (2, 0), (2, 2), (0, 2)]))
    assert not self_intersects(_poly([(0, 0), (1, 0), (2, 0), (2, 2), (0, 2), (0, 0)]))
    # a loop where the outline end overshoots its start, as MoNuSeg outlines often do
    assert self_intersects(_poly([(0, 0), (4, 0), (4, 4), (0, 4), (0, -1), (1, -1), (1, 1)]))


def test_loop_is_filled():
    # The outline overshoots and re-crosses its start: even-odd leaves a hole, which is filled.
    loop = _poly([(2, 10), (20, 10), (20, 20), (10, 20), (10, 5), (15, 5), (15, 15), (2, 15)])
    lm, counts, _ = polygons_to_label_map([('1', loop)], 30, 30)
    assert counts['self_intersecting_rasterised'] == 1
    assert lm[12, 12] == 1  # doubly covered area is not a hole


def test_bad_files(tmp_path):
    bad = tmp_path / 'bad.xml'
    bad.write_text('<Annotations><Region>')
    with pytest.raises(ConversionError, match='bad.xml: malformed XML'):
        parse_aperio_xml(bad)
    wrong = tmp_path / 'wrong.xml'
    wrong.write_text('<Root><Thing/></Root>')
    with pytest.raises(ConversionError, match='wrong.xml: not an Aperio'):
        parse_aperio_xml(wrong)
    novalue = tmp_path / 'novalue.xml'
    novalue.write_text('<Annotations><Region Id="3"><Vertices><Vertex X="a" Y="1"/>'
                       '</Vertices></Region></Annotations>')
    with pytest.raises(ConversionError, match='novalue.xml: region 3'):
        parse_aperio_xml(novalue)
