"""mmcyclic's torchvision RoIAlign and NMS behind mmcv.ops' own wrappers: equal to mmcv's
compiled ops on random inputs (where a compiled mmcv is installed), and every op it does not
provide refused by name with the way to get it."""
import sys

import pytest
import torch
from mmcv.ops import batched_nms, nms, roi_align, soft_nms

from mmcyclic.ops import (OPS_ENV, PROVIDED_OPS, MmcvOpNotProvided, install_mmcv_ops,
                          mmcv_ops_backend, requested_mode, torchvision_ext)

from mmcv_ext_helpers import compiled_ext_or_none


def _rois(generator, count, batch, height, width, spatial_scale):
    """Random RoIs (index, x1, y1, x2, y2) in image coordinates, some partly outside the
    feature map and some of zero width or height."""
    size = torch.tensor([width, height], dtype=torch.float32) / spatial_scale
    start = torch.rand(count, 2, generator=generator) * size * 1.1 - 0.05 * size
    extent = torch.rand(count, 2, generator=generator) * size * 0.6
    extent[:3] = 0  # degenerate RoIs
    index = torch.randint(0, batch, (count, 1), generator=generator).float()
    return torch.cat([index, start, start + extent], dim=1)


def _roi_align(use_ext, ext, features, rois, grad, *args):
    use_ext(ext)
    features = features.detach().clone().requires_grad_()
    output = roi_align(features, rois, *args)
    output.backward(grad)
    return output.detach(), features.grad


@pytest.mark.parametrize('aligned', [True, False])
@pytest.mark.parametrize('sampling_ratio', [0, 1, 2])
@pytest.mark.parametrize('spatial_scale,output_size', [(0.25, (7, 7)), (0.125, (14, 10))])
def test_roi_align_forward_and_backward_equal_mmcv(compiled_ext, use_ext, aligned,
                                                   sampling_ratio, spatial_scale, output_size):
    generator = torch.Generator().manual_seed(sampling_ratio + 10 * aligned)
    features = torch.randn(2, 5, 19, 23, generator=generator)
    rois = _rois(generator, 40, 2, 19, 23, spatial_scale)
    grad = torch.randn(len(rois), 5, *output_size, generator=generator)
    args = (output_size, spatial_scale, sampling_ratio, 'avg', aligned)
    expected = _roi_align(use_ext, compiled_ext, features, rois, grad, *args)
    got = _roi_align(use_ext, torchvision_ext, features, rois, grad, *args)
    assert expected[0].abs().sum() > 0 and expected[1].abs().sum() > 0
    torch.testing.assert_close(got[0], expected[0], rtol=0, atol=0)
    torch.testing.assert_close(got[1], expected[1], rtol=0, atol=0)


def _boxes(generator, count):
    """Random boxes (x1, y1, x2, y2) that overlap a lot; distinct scores in [0, 1)."""
    start = torch.rand(count, 2, generator=generator) * 40
    extent = torch.rand(count, 2, generator=generator) * 30 + 1
    scores = torch.randperm(count, generator=generator).float() / count
    return torch.cat([start, start + extent], dim=1), scores


@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('iou_threshold', [0.3, 0.5, 0.7])
def test_nms_and_batched_nms_equal_mmcv(compiled_ext, use_ext, seed, iou_threshold):
    generator = torch.Generator().manual_seed(seed)
    boxes, scores = _boxes(generator, 300)
    classes = torch.randint(0, 4, (len(boxes),), generator=generator)
    calls = {
        'nms': lambda: nms(boxes, scores, iou_threshold),
        'nms with score threshold and max_num':
            lambda: nms(boxes, scores, iou_threshold, score_threshold=0.3, max_num=20),
        'batched_nms': lambda: batched_nms(boxes, scores, classes,
                                           dict(type='nms', iou_threshold=iou_threshold)),
        'batched_nms class by class': lambda: batched_nms(
            boxes, scores, classes, dict(type='nms', iou_threshold=iou_threshold, split_thr=50)),
        'nms of tied scores': lambda: nms(boxes, (scores * 5).floor() / 5, iou_threshold),
        'nms of no box': lambda: nms(boxes[:0], scores[:0], iou_threshold),
        'nms at an IoU equal to the threshold in float32': lambda: nms(
            torch.tensor([[0., 0, 10, 10], [0, 0, 10, 10 * iou_threshold]]),
            torch.tensor([0.9, 0.8]), iou_threshold),
    }
    for name, call in calls.items():
        use_ext(compiled_ext)
        expected_dets, expected_keep = call()
        use_ext(torchvision_ext)
        dets, keep = call()
        assert len(expected_keep) < len(boxes) or 'no box' in name or 'IoU' in name, name
        torch.testing.assert_close(keep, expected_keep, rtol=0, atol=0, msg=name)
        torch.testing.assert_close(dets, expected_dets, rtol=0, atol=0, msg=name)


def test_ops_not_provided_are_refused_by_name_with_the_fix(use_ext):
    use_ext(torchvision_ext)
    boxes = torch.tensor([[0., 0, 10, 10], [1, 1, 11, 11]])
    scores = torch.tensor([0.9, 0.8])
    rois = torch.tensor([[0., 0, 0, 4, 4]])
    refused = {
        'softnms': lambda: soft_nms(boxes, scores, 0.5),
        'nms': lambda: nms(boxes, scores, 0.5, offset=1),
        'roi_align_forward': lambda: roi_align(torch.rand(1, 1, 8, 8), rois, (2, 2), 1.0, 0,
                                               'max', True),
    }
    for op, call in refused.items():
        with pytest.raises(MmcvOpNotProvided) as error:
            call()
        assert error.value.op == op
        assert f"'{op}'" in str(error.value) and 'MMCYCLIC_MMCV_OPS=compiled make setup' in str(
            error.value)
    assert set(PROVIDED_OPS) == {'roi_align_forward', 'roi_align_backward', 'nms'}


def test_the_mode_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(OPS_ENV, raising=False)
    assert requested_mode() == 'auto'
    monkeypatch.setenv(OPS_ENV, ' Torchvision ')
    assert requested_mode() == 'torchvision'
    monkeypatch.setenv(OPS_ENV, 'cuda')
    with pytest.raises(ValueError, match="MMCYCLIC_MMCV_OPS='cuda': expected one of auto, "
                                         'compiled, torchvision'):
        requested_mode()


def test_import_mmcyclic_chose_the_compiled_ops_where_they_load():
    if requested_mode() != 'auto':
        pytest.skip(f'{OPS_ENV}={requested_mode()} is set for this run')
    compiled = compiled_ext_or_none() is not None
    assert mmcv_ops_backend() == ('compiled' if compiled else 'torchvision')
    assert (sys.modules['mmcv.ops.nms'].ext_module is torchvision_ext) is not compiled


def test_other_ops_than_those_loaded_are_refused_not_ignored():
    active = mmcv_ops_backend()
    assert active in ('compiled', 'torchvision')  # import mmcyclic chose them
    assert install_mmcv_ops('auto') == active == install_mmcv_ops(active)
    other = 'torchvision' if active == 'compiled' else 'compiled'
    with pytest.raises(RuntimeError, match=f'already uses the {active} ops.*Import mmcyclic '
                                           'before mmcv.ops'):
        install_mmcv_ops(other)
