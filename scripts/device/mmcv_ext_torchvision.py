"""Stand-in for mmcv's compiled ops on a machine without an mmcv build for its torch/CUDA.

Used only by the device runs of benchmarks/device (not part of mmcyclic): Mask R-CNN needs
RoIAlign and NMS, which torchvision implements with the same semantics (aligned RoIAlign
with adaptive sampling, greedy NMS with boxes' width x2 - x1). Any other op raises.
"""
import torch
import torchvision


def roi_align_forward(input, rois, output, argmax_y, argmax_x, aligned_height, aligned_width,
                      spatial_scale, sampling_ratio, pool_mode, aligned):
    assert pool_mode == 1, 'only average RoIAlign is provided'
    output.copy_(torchvision.ops.roi_align(input, rois, (aligned_height, aligned_width),
                                           spatial_scale, sampling_ratio, aligned))


def roi_align_backward(grad_output, rois, argmax_y, argmax_x, grad_input, aligned_height,
                       aligned_width, spatial_scale, sampling_ratio, pool_mode, aligned):
    assert pool_mode == 1, 'only average RoIAlign is provided'
    b, c, h, w = grad_input.shape
    grad_input.copy_(torch.ops.torchvision._roi_align_backward(
        grad_output, rois, spatial_scale, aligned_height, aligned_width, b, c, h, w,
        sampling_ratio, aligned))


def nms(boxes, scores, iou_threshold, offset):
    assert offset == 0, 'only offset 0 is provided'
    return torchvision.ops.nms(boxes, scores, float(iou_threshold))


def __getattr__(name):
    if name.startswith('__'):
        raise AttributeError(name)

    def missing(*args, **kwargs):
        raise NotImplementedError(f'mmcv op {name} is not provided on this machine')
    return missing
