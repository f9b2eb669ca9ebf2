"""Backbone weights move between the classifier (mmpretrain) and the detector (mmdet).

Both ends build the same registered mmpretrain backbone, so after a transfer
every stage must give the same output on the same input, in both directions.
"""
import pytest
import torch
from mmdet.registry import MODELS as DET_MODELS
from mmengine.config import Config
from mmengine.registry import DefaultScope

import mmcyclic  # noqa: F401
from mmcyclic.models.backbone_transfer import classifier_with_backbone_of, load_backbone
from mmcyclic.seeds import load_classifier

from cyclic_test_utils import REPO

# ResNet-101 and -152 are the ResNet-50 code path with more blocks (tens of seconds to build
# on 2 CPU cores): slow; ResNet-50 and Swin (the other backbone family) stay in test-fast.
PAIRS = [
    ('classifier_r18_monu.py', 'cyclic_r18_monu.py'),
    ('classifier_r50_monu.py', 'cyclic_r50_monu.py'),
    pytest.param('classifier_r101_monu.py', 'cyclic_r101_monu.py', marks=pytest.mark.slow),
    pytest.param('classifier_r152_monu.py', 'cyclic_r152_monu.py', marks=pytest.mark.slow),
    ('classifier_swin_monu.py', 'cyclic_swin_monu.py'),
    # HoVer-Net as the back-end: the same backbone module under the same key (R18, the cheap
    # one, in test-fast; Swin-T in its own detector's build is slow).
    ('classifier_r18_monu.py', 'reproduce/sparse_labels/lrp_default_seeds_stain_prior_hovernet.py'),
    pytest.param('classifier_swin_monu.py', 'cyclic_hovernet_swin_monu.py',
                 marks=pytest.mark.slow),
    # KG Instance builds the same mmpretrain module (docs/kg_instance.md).
    ('classifier_r18_monu.py', 'reproduce/sparse_labels/full_supervision_kg_instance.py'),
    ('classifier_r50_monu.py', 'cyclic_kg_instance_r50_monu.py'),
]


def _detector(config: str) -> torch.nn.Module:
    cfg = Config.fromfile(str(REPO / 'configs' / config))
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = DET_MODELS.build(cfg.model)
    model.init_weights()
    return model.eval()


def _stage_outputs(backbone: torch.nn.Module, x: torch.Tensor) -> list:
    """Output of every stage's blocks (ResNet ``layer1..4``, Swin ``stages[i]``)."""
    stages = list(backbone.stages) if hasattr(backbone, 'stages') else [
        getattr(backbone, name) for name in backbone.res_layers]
    outputs = []
    handles = [s.register_forward_hook(lambda m, i, o: outputs.append(
        (o[0] if isinstance(o, tuple) else o).detach().clone())) for s in stages]
    with torch.no_grad():
        backbone(x)
    for handle in handles:
        handle.remove()
    assert len(outputs) == 4
    return outputs


def _save(model: torch.nn.Module, path) -> str:
    torch.save({'state_dict': model.state_dict()}, path)
    return str(path)


@pytest.mark.parametrize('classifier_cfg,detector_cfg', PAIRS)
def test_transfer_both_directions_gives_identical_stage_outputs(classifier_cfg, detector_cfg,
                                                                tmp_path):
    torch.manual_seed(0)
    classifier = load_classifier(str(REPO / 'configs' / classifier_cfg))
    classifier.init_weights()
    classifier.eval()
    torch.manual_seed(1)
    detector = _detector(detector_cfg)
    assert type(classifier.backbone) is type(detector.backbone)  # one registered module
    x = torch.randn(1, 3, 64, 64)
    assert not torch.allclose(_stage_outputs(classifier.backbone, x)[0],
                              _stage_outputs(detector.backbone, x)[0])

    # front-end -> back-end (the students' initialisation)
    counts = load_backbone(detector, _save(classifier, tmp_path / 'cls.pth'))
    assert counts['loaded'] == len(classifier.backbone.state_dict())
    for a, b in zip(_stage_outputs(classifier.backbone, x), _stage_outputs(detector.backbone, x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)

    # back-end -> front-end (bilateral sharing): perturb the detector first
    with torch.no_grad():
        for p in detector.backbone.parameters():
            p.add_(0.01 * torch.randn_like(p))
    weights, replaced = classifier_with_backbone_of(_save(classifier, tmp_path / 'cls2.pth'),
                                                    _save(detector, tmp_path / 'det.pth'))
    assert replaced == len(classifier.backbone.state_dict())
    head_before = {k: v.clone() for k, v in classifier.head.state_dict().items()}
    classifier.load_state_dict(weights)
    for key, value in classifier.head.state_dict().items():  # only the backbone moves
        assert torch.equal(value, head_before[key]), key
    for a, b in zip(_stage_outputs(classifier.backbone, x), _stage_outputs(detector.backbone, x)):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_hand_back_refuses_a_detector_of_another_depth(tmp_path):
    """A ResNet-18 detector's backbone does not fit a ResNet-50 classifier: a clear error."""
    classifier = load_classifier(str(REPO / 'configs' / 'classifier_r50_monu.py'))
    detector = _detector('cyclic_r18_monu.py')
    with pytest.raises(ValueError, match='same backbone'):
        classifier_with_backbone_of(_save(classifier, tmp_path / 'c.pth'),
                                    _save(detector, tmp_path / 'd.pth'))
