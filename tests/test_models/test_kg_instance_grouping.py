"""KG Instance targets and grouping on hand-made keypoints (no network)."""
import numpy as np
import pytest
import torch

from mmcyclic.models.kg_instance.grouping import decode_boxes, group_keypoints, group_to_box
from mmcyclic.models.kg_instance.targets import (DIRECTED_EDGES, box_keypoints, image_to_map,
                                                 keypoint_targets)

R = 5.0
SEPARATED = torch.tensor([[10., 10, 40, 36], [60, 15, 90, 45], [20, 60, 50, 86]])
# Two nuclei that touch along x = 128: their tr/br and tl/bl discs overlap.
TOUCHING = torch.tensor([[100., 100, 128, 128], [128, 104, 156, 130]])


def _decode_perfect(boxes, stride, shape):
    """Decode the ideal network output: the targets themselves."""
    t = keypoint_targets(boxes, stride, shape, R, 2 * R + 1)
    return decode_boxes(t['heatmap'], t['short'], t['mid'], stride, R)


def _match(found, expected, atol):
    """Every expected box has one found box within ``atol`` px on every side."""
    assert len(found) == len(expected), (found, expected)
    for box in expected:
        error = (found - box).abs().max(dim=1).values
        assert error.min() <= atol, (box, found)


@pytest.mark.parametrize('stride,atol', [(1, 0.5), (2, 1.0)])
def test_grouping_recovers_three_separated_and_two_touching_nuclei(stride, atol):
    boxes = torch.cat([SEPARATED, TOUCHING])
    found, scores = _decode_perfect(boxes, stride, (160 // stride, 176 // stride))
    _match(found, boxes, atol)
    assert (scores > 0.9).all(), scores  # a confident, well-formed nucleus scores high


def test_a_lone_corner_keypoint_makes_no_confident_box():
    heat = torch.zeros(5, 64, 64)
    t = keypoint_targets(torch.tensor([[10., 10, 40, 40]]), 1, (64, 64), R, 2 * R + 1)
    heat[0] = t['heatmap'][0]  # only the top-left corner fires, perfectly
    found, scores = decode_boxes(heat, t['short'], t['mid'], 1, R)
    assert len(found) == 0
    # Its group on its own: no box; the score rule gives a lone keypoint at most 1/5.
    group = np.zeros((5, 3))
    group[0] = (10, 10, 1.0)
    assert group_to_box(group) == (None, 0.0)
    group[3] = (40, 40, 1.0)  # a diagonal pair makes a box, scoring 2/5 at most
    box, score = group_to_box(group)
    np.testing.assert_allclose(box, [10, 10, 40, 40])
    assert score == pytest.approx(0.4)


def test_box_rules_mirror_a_missing_side_about_the_centre():
    group = np.zeros((5, 3))
    group[0] = (10, 10, 1)  # tl
    group[1] = (30, 10, 1)  # tr
    group[4] = (20, 18, 1)  # centre: the bottom side is mirrored to y = 26
    box, score = group_to_box(group)
    np.testing.assert_allclose(box, [10, 10, 30, 26])
    assert score == pytest.approx(0.6)
    group[4, 2] = 0  # two adjacent corners alone: no box (the paper's rule)
    assert group_to_box(group)[0] is None


def test_targets_discs_offsets_and_nearest_keypoint_tie_rule():
    t = keypoint_targets(TOUCHING, 1, (160, 176), R, 2 * R + 1)
    keypoints = image_to_map(box_keypoints(TOUCHING), 1)  # (2, 5, 2)
    heat, short, mid = t['heatmap'], t['short'], t['mid']
    assert heat.dtype == torch.float32 and set(heat.unique().tolist()) == {0.0, 1.0}
    # Disc of the first nucleus' tl corner at (99.5, 99.5): radius 5, binary.
    ys, xs = torch.nonzero(heat[0], as_tuple=True)
    distances = torch.stack([xs, ys], 1).float() - keypoints[:, 0][:, None]
    assert (distances.norm(dim=-1).min(dim=0).values <= R).all()
    # Short offset = keypoint − pixel on the disc, 0 elsewhere.
    assert short[0, 100, 102] == pytest.approx(99.5 - 102)
    assert short[1, 100, 102] == pytest.approx(99.5 - 100)
    assert short[0, 50, 50] == 0 and short[1, 50, 50] == 0
    # Mid offset of edge tl -> br on the tl disc: that instance's br − pixel.
    edge = DIRECTED_EDGES.index((0, 3))
    assert mid[2 * edge, 100, 102] == pytest.approx(127.5 - 102)
    assert mid[2 * edge + 1, 100, 102] == pytest.approx(127.5 - 100)
    assert t['num_boxes'] == 2


def test_a_pixel_on_two_discs_takes_the_nearest_keypoint_s_offsets():
    """Tie rule; the official code lets the later box overwrite the shared pixels (not here)."""
    boxes = torch.tensor([[20., 20, 50, 50], [26, 22, 60, 56]])  # tl at (19.5, 19.5), (25.5, 21.5)
    t = keypoint_targets(boxes, 1, (64, 64), R, 2 * R + 1)
    short, mid = t['short'], t['mid']
    edge = DIRECTED_EDGES.index((0, 3))
    # (x=22, y=20) is nearer the first tl: the first box's offsets, though the second came later.
    assert t['heatmap'][0, 20, 22] == 1
    assert (short[0, 20, 22], short[1, 20, 22]) == (pytest.approx(-2.5), pytest.approx(-0.5))
    assert mid[2 * edge, 20, 22] == pytest.approx(49.5 - 22)
    # (x=24, y=21) is nearer the second tl: the second box's.
    assert (short[0, 21, 24], short[1, 21, 24]) == (pytest.approx(1.5), pytest.approx(0.5))
    assert mid[2 * edge, 21, 24] == pytest.approx(59.5 - 24)


def test_targets_skip_boxes_too_small_for_the_stride_and_allow_no_boxes():
    t = keypoint_targets(SEPARATED, 4, (40, 44), R, 2 * R + 1)  # 30 px / 4 < 11
    assert t['num_boxes'] == 0 and not t['heatmap'].any()
    empty = keypoint_targets(torch.zeros((0, 4)), 1, (32, 32), R, 2 * R + 1)
    assert empty['heatmap'].shape == (5, 32, 32) and not empty['heatmap'].any()
    assert empty['short'].shape == (10, 32, 32) and empty['mid'].shape == (40, 32, 32)


def test_grouping_skips_a_seed_near_a_same_type_keypoint_of_a_group():
    peaks = [np.array([[10., 10, 0.9], [12, 10, 0.8]]), np.zeros((0, 3)), np.zeros((0, 3)),
             np.array([[40., 40, 0.9]]), np.zeros((0, 3))]
    mid = np.zeros((40, 64, 64))
    edge = DIRECTED_EDGES.index((0, 3))
    mid[2 * edge:2 * edge + 2, 10, 10] = 30  # tl (10, 10) points at br (40, 40)
    groups = group_keypoints(peaks, mid, R, skip_dist=10)
    assert len(groups) == 1  # the second tl, 2 px away, seeds nothing
    np.testing.assert_allclose(groups[0][[0, 3], :2], [[10, 10], [40, 40]])


def test_box_score_reads_the_heatmap_not_how_tightly_the_offsets_vote():
    """Offsets off by up to 3 px spread the votes (their peaks sink) while the heatmap stays
    sure: 'heatmap' (default) keeps the box confident, 'votes' does not; both find it."""
    box = torch.tensor([[20., 20, 50, 48]])
    t = keypoint_targets(box, 1, (72, 72), R, 2 * R + 1)
    noisy = t['short'] + (torch.rand(t['short'].shape, generator=torch.Generator().manual_seed(0))
                          * 6 - 3) * t['heatmap'].repeat_interleave(2, 0)
    found = {name: decode_boxes(t['heatmap'], noisy, t['mid'], 1, R, box_score=name)
             for name in ('heatmap', 'votes')}
    for boxes, _ in found.values():
        _match(boxes, box, 2.0)
    assert found['heatmap'][1].max() > 0.9
    assert found['votes'][1].max() < 0.7
    with pytest.raises(ValueError, match="box_score must be 'heatmap' or 'votes'"):
        decode_boxes(t['heatmap'], noisy, t['mid'], 1, R, box_score='mean')
