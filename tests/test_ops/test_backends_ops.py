"""Which of mmcv's compiled ops each back-end reaches (one training step and one inference):
only those mmcyclic provides from torchvision; and Mask R-CNN trains and predicts the same
with either."""
import copy

import pytest
import torch
from mmdet.registry import MODELS
from mmdet.testing import demo_mm_inputs
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

from mmcyclic.ops import PROVIDED_OPS, torchvision_ext

from cyclic_test_utils import REPO

pytestmark = pytest.mark.slow  # a few seconds per back-end on 2 CPU cores

MODEL_CONFIGS = REPO / 'configs' / '_base_' / 'models'
ROI_ALIGN_AND_NMS = {'roi_align_forward', 'roi_align_backward', 'nms'}
# back-end: (model config, test_cfg that lets an untrained model detect, mmcv ops it reaches)
BACKENDS = {
    'mask_rcnn': ('mask_rcnn_r18_fpn.py', None, ROI_ALIGN_AND_NMS),
    'hovernet': ('hovernet_r18.py', dict(np_thr=0.0), set()),
    'kg_instance': ('kg_instance_r18.py', dict(score_thr=0.0, peak_thr=0.0), ROI_ALIGN_AND_NMS),
}


class RecordingExt:
    """``mmcv._ext`` as mmcv.ops' wrappers see it: the stand-in's ops, each name recorded."""

    def __init__(self):
        self.called = set()

    def __getattr__(self, name):
        self.called.add(name)
        return getattr(torchvision_ext, name)


def _model(config, test_cfg=None):
    init_default_scope('mmdet')
    cfg = Config.fromfile(str(MODEL_CONFIGS / config)).model
    if test_cfg:
        cfg.test_cfg.update(test_cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def _batch():
    """Two 64 px images with 3 nuclei each (boxes and masks) of the one class."""
    packed = demo_mm_inputs(batch_size=2, image_shapes=[(3, 64, 64)] * 2, num_items=[3, 3],
                            num_classes=2, with_mask=True)
    for sample in packed['data_samples']:
        sample.gt_instances.labels.zero_()
    return packed


def _train_step_and_predict(model, packed):
    """The log of one SGD step, the weights after it, and the predictions they make."""
    model.train()
    torch.manual_seed(2)  # the RPN's and RoI head's samplers
    log = model.train_step(copy.deepcopy(packed),
                           OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.02)))
    model.eval()
    with torch.no_grad():
        predictions = model.test_step(copy.deepcopy(packed))
    return log, copy.deepcopy(model.state_dict()), [p.pred_instances for p in predictions]


def _numbers(log):
    return {key: float(torch.as_tensor(value).detach()) for key, value in log.items()}


@pytest.mark.parametrize('backend', list(BACKENDS))
def test_each_back_end_reaches_only_the_provided_ops(use_ext, backend):
    config, test_cfg, reached = BACKENDS[backend]
    recording = RecordingExt()
    use_ext(recording)
    _, _, predictions = _train_step_and_predict(_model(config, test_cfg), _batch())
    assert sum(len(p) for p in predictions) > 0  # the inference path ran to the end
    assert recording.called == reached
    assert reached <= set(PROVIDED_OPS)


def test_mask_rcnn_trains_and_predicts_the_same_with_either_ops(compiled_ext, use_ext):
    model = _model(BACKENDS['mask_rcnn'][0])
    runs = {}
    for name, ext in (('compiled', compiled_ext), ('torchvision', torchvision_ext)):
        use_ext(ext)
        runs[name] = _train_step_and_predict(copy.deepcopy(model), _batch())
    (log, weights, predictions), (tv_log, tv_weights, tv_predictions) = runs.values()
    assert set(log) >= {'loss_rpn_cls', 'loss_bbox', 'loss_mask'}
    assert _numbers(tv_log) == _numbers(log)
    for key, value in weights.items():
        assert torch.equal(tv_weights[key], value), key
    assert sum(len(p) for p in predictions) > 0
    for got, expected in zip(tv_predictions, predictions):
        for key in ('bboxes', 'scores', 'labels', 'masks'):
            assert torch.equal(got[key], expected[key]), key
