"""The ``pretrained`` switch: one local ImageNet file initialises the backbones of both ends.

Checkpoints are made here (torchvision and mmpretrain models with random weights, saved to
tmp_path): nothing is downloaded.
"""
import argparse
import re
from types import SimpleNamespace

import pytest
import torch
import torchvision
from mmdet.registry import MODELS as DET_MODELS
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS as CLS_MODELS
from torch import nn

import mmcyclic  # noqa: F401
from mmcyclic.engine.classifier_step import ClassifierStep
from mmcyclic.seeds import load_classifier
from mmcyclic.utils.config import (ConfigError, add_runner_arguments, apply_pretrained,
                                   config_from_args, load_config)

from cyclic_test_utils import REPO, simulated_tiles, small_cyclic_cfg

CONFIGS = REPO / 'configs'
# configs -> (optimiser type, lr, weight decay) when pretrained: the paper's fine-tuning (§V-B).
CLASSIFIER_RATES = ('SGD', 1e-4, 1e-4)
DETECTOR_RATES = ('SGD', 1e-3, 1e-4)
PAPER_CONFIGS = {
    **{name: DETECTOR_RATES for name in (
        'cyclic_r50_monu.py', 'cyclic_r101_monu.py', 'cyclic_r152_monu.py', 'cyclic_swin_monu.py',
        'cyclic_hovernet_r50_monu.py', 'cyclic_hovernet_swin_monu.py',
        'cyclic_kg_instance_r50_monu.py', 'cyclic_r50_consep.py', 'cyclic_swin_consep.py',
        'cyclic_r18_monu.py', 'mask_rcnn_r50_monu.py', 'hovernet_r50_monu.py',
        'kg_instance_r50_monu.py', 'mask_rcnn_r50_consep.py')},
    **{path.name: CLASSIFIER_RATES for path in sorted(CONFIGS.glob('classifier_*.py'))},
}


def _randomise_norms(model: nn.Module) -> nn.Module:
    """Norm weights and statistics away from their initial 1 / 0, so that a norm loaded
    into the wrong place (or not at all) changes the features."""
    for module in model.modules():
        if isinstance(module, (nn.BatchNorm2d, nn.LayerNorm)):
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    model.eval()  # mmpretrain's ResNet.train() returns None
    return model


@pytest.fixture(scope='module')
def torchvision_r18(tmp_path_factory):
    """(path, model): torchvision.models.resnet18(weights=None) saved as its state dict."""
    torch.manual_seed(0)
    model = _randomise_norms(torchvision.models.resnet18(weights=None))
    path = tmp_path_factory.mktemp('tv') / 'resnet18_torchvision.pth'
    torch.save(model.state_dict(), path)
    return str(path), model


def _expected_from_torchvision_r18(state: dict) -> dict:
    """torchvision ResNet-18 tensors in the project's mmpretrain keys, spelt out: the ImageNet
    head goes; with avg_down the strided shortcuts are (AvgPool, conv, norm), so torchvision's
    downsample.0 / .1 (conv / norm) of layer2..4 become downsample.1 / .2."""
    expected = {}
    for key, value in state.items():
        if key.startswith('fc.'):
            continue
        key = re.sub(r'^(layer[234]\.0\.downsample)\.1\.', r'\1.2.', key)
        key = re.sub(r'^(layer[234]\.0\.downsample)\.0\.', r'\1.1.', key)
        expected[key] = value
    return expected


def _both_ends(cfg, whole_models: bool = False):
    """The initialised backbone tensors of a loaded cyclic config's two ends: the classifier's
    from the config ClassifierStep loads for the cycle, the detector's from ``cfg.model``.

    ``whole_models``: build and initialise the classifier and the detector as the Runners do
    (``model.init_weights()``, seconds); else only their backbones, from the same configs."""
    step = ClassifierStep(SimpleNamespace(cfg=cfg), **cfg.train_cfg.classifier)
    classifier_cfg = step.load_config()
    with DefaultScope.overwrite_default_scope('mmdet'):
        if whole_models:
            classifier = load_classifier(classifier_cfg).backbone
            detector = DET_MODELS.build(cfg.model).backbone
        else:
            classifier = CLS_MODELS.build(classifier_cfg.model.backbone)
            detector = DET_MODELS.build(cfg.model.backbone)
    for model in (classifier, detector):
        model.init_weights()
    return classifier.state_dict(), detector.state_dict()


def _assert_same_tensors(actual: dict, expected: dict) -> None:
    assert set(actual) == set(expected)
    different = [k for k in expected if not torch.equal(actual[k], expected[k])]
    assert not different, different[:5]


def test_command_line_pretrained_initialises_both_ends_from_a_torchvision_file(torchvision_r18):
    """`tools/train.py configs/cyclic_r18_monu.py --cfg-options pretrained=PATH`: the classifier
    and the detector start from the same tensors, the file's in the project's keys."""
    path, model = torchvision_r18
    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_runner_arguments(parser)
    args = parser.parse_args([str(CONFIGS / 'cyclic_r18_monu.py'), '--cfg-options',
                              f'pretrained={path}'])
    classifier, detector = _both_ends(config_from_args(args))
    expected = _expected_from_torchvision_r18(model.state_dict())
    _assert_same_tensors(classifier, expected)
    _assert_same_tensors(detector, expected)


@pytest.mark.slow  # builds and initialises the whole classifier and detector (~4 s)
def test_child_config_pretrained_initialises_both_ends_from_an_mmpretrain_checkpoint(tmp_path):
    """A child config's `pretrained = PATH`, with an mmpretrain classifier checkpoint
    ({'state_dict': backbone.* + head}) of a plain ResNet-18 (avg_down=False, like the
    ImageNet checkpoints mmpretrain publishes); the whole models, initialised as the Runners
    initialise them."""
    torch.manual_seed(1)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        plain = CLS_MODELS.build(dict(
            type='ImageClassifier', backbone=dict(type='ResNet', depth=18),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=1000, in_channels=512)))
    _randomise_norms(plain)
    checkpoint = tmp_path / 'resnet18_mmpretrain.pth'
    torch.save({'state_dict': plain.state_dict(), 'meta': {}}, checkpoint)
    child = tmp_path / 'cyclic_r18_pretrained.py'
    base, classifier_config = CONFIGS / 'cyclic_r18_monu.py', CONFIGS / 'classifier_r18_monu.py'
    child.write_text(f"_base_ = '{base}'\npretrained = '{checkpoint}'\n"
                     f"train_cfg = dict(classifier=dict(config='{classifier_config}'))\n")
    classifier, detector = _both_ends(load_config(str(child)), whole_models=True)
    # The plain model's keys are torchvision's, without the head.
    expected = _expected_from_torchvision_r18(plain.backbone.state_dict())
    _assert_same_tensors(classifier, expected)
    _assert_same_tensors(detector, expected)


def test_bare_backbone_state_dict_of_the_same_module_loads_unchanged(tmp_path):
    torch.manual_seed(2)
    source = _randomise_norms(CLS_MODELS.build(dict(type='ResNet', depth=18, avg_down=True)))
    path = tmp_path / 'backbone.pth'
    torch.save(source.state_dict(), path)
    classifier, detector = _both_ends(load_config(str(CONFIGS / 'cyclic_r18_monu.py'),
                                                  {'pretrained': str(path)}))
    _assert_same_tensors(classifier, source.state_dict())
    _assert_same_tensors(detector, source.state_dict())


def _stage_outputs_torchvision_resnet(model: nn.Module, x: torch.Tensor) -> list:
    y = model.maxpool(model.relu(model.bn1(model.conv1(x))))
    outputs = []
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        y = layer(y)
        outputs.append(y)
    return outputs


def _pretrained_backbone(path: str, **backbone) -> nn.Module:
    model = CLS_MODELS.build(dict(backbone, init_cfg=dict(type='PretrainedBackbone',
                                                          checkpoint=path)))
    model.init_weights()
    model.eval()
    return model


def test_converted_torchvision_resnet18_gives_torchvision_features(torchvision_r18):
    """Without avg_down the mmpretrain ResNet with the converted tensors is torchvision's ResNet.
    avg_down changes the function of the strided shortcuts only (2x2 mean, then the 1x1 conv,
    instead of the 1x1 conv reading one pixel in four): layer1 is unchanged, layer2..4 differ."""
    path, model = torchvision_r18
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        reference = _stage_outputs_torchvision_resnet(model, x)
        plain = _pretrained_backbone(path, type='ResNet', depth=18, out_indices=(0, 1, 2, 3))(x)
        averaged = _pretrained_backbone(path, type='ResNet', depth=18, out_indices=(0, 1, 2, 3),
                                        avg_down=True)(x)
    for ours, theirs in zip(plain, reference):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(averaged[0], reference[0], rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(averaged[1:], reference[1:]):
        assert not torch.allclose(ours, theirs, rtol=1e-3, atol=1e-3)


def _stage_outputs_swin(model: nn.Module, x: torch.Tensor) -> list:
    """The last block's output of each stage: torchvision's, as (B, H*W, C) tokens."""
    y, outputs = model.features[0](x), []
    for stage in range(4):
        y = model.features[2 * stage + 1](y)
        outputs.append(y.flatten(1, 2))
        if stage < 3:
            y = model.features[2 * stage + 2](y)
    return outputs


@pytest.mark.slow  # three Swin-T builds and 224 px forwards (~15 s on 2 cores)
def test_converted_torchvision_swin_t_gives_torchvision_features(tmp_path):
    """Key renaming and the patch-merging channel order. With pad_small_map=True (the project's
    configs, for 64 px tiles) mmpretrain keeps the last stage's window shift where the 7x7 map
    equals the window, which torchvision (and the official Swin) drop: stages 1-3 still agree."""
    torch.manual_seed(3)
    model = _randomise_norms(torchvision.models.swin_t(weights=None))
    for name, parameter in model.named_parameters():
        if 'relative_position_bias_table' in name:
            parameter.data.normal_(0, 0.5)
    path = tmp_path / 'swin_t_torchvision.pth'
    torch.save(model.state_dict(), path)
    exact = _pretrained_backbone(str(path), type='SwinTransformer', arch='tiny', img_size=224,
                                 pad_small_map=False)
    padded = _pretrained_backbone(str(path), type='SwinTransformer', arch='tiny', img_size=224,
                                  pad_small_map=True)
    x = torch.randn(1, 3, 224, 224)
    padded_outputs = []
    for stage in padded.stages:
        stage.blocks[-1].register_forward_hook(lambda m, i, o: padded_outputs.append(o))
    with torch.no_grad():
        reference = model.norm(model.features(x)).permute(0, 3, 1, 2)
        torch.testing.assert_close(exact(x)[-1], reference, rtol=1e-4, atol=1e-4)
        stages = _stage_outputs_swin(model, x)
        padded(x)
    for ours, theirs in zip(padded_outputs[:3], stages[:3]):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(padded_outputs[3], stages[3], rtol=1e-3, atol=1e-3)


@pytest.mark.slow  # a Swin-T classifier and detector (~15 s on 2 cores)
def test_torchvision_swin_t_file_initialises_both_ends_of_the_swin_config(tmp_path):
    torch.manual_seed(4)
    model = _randomise_norms(torchvision.models.swin_t(weights=None))
    path = tmp_path / 'swin_t_torchvision.pth'
    torch.save(model.state_dict(), path)
    classifier, detector = _both_ends(load_config(str(CONFIGS / 'cyclic_swin_monu.py'),
                                                  {'pretrained': str(path)}), whole_models=True)
    shared = set(classifier) & set(detector)
    assert set(detector) - shared == {f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias')}
    assert not [k for k in shared if not torch.equal(classifier[k], detector[k])]
    torch.testing.assert_close(classifier['patch_embed.projection.weight'],
                               model.state_dict()['features.0.0.weight'], rtol=0, atol=0)
    torch.testing.assert_close(classifier['stages.2.blocks.5.attn.w_msa.qkv.weight'],
                               model.state_dict()['features.5.5.attn.qkv.weight'], rtol=0, atol=0)


def _classifier_r18_with(path: str) -> nn.Module:
    return load_classifier(load_config(str(CONFIGS / 'classifier_r18_monu.py'),
                                       {'pretrained': path}))


def test_missing_file_is_an_error_naming_it_and_the_fix(tmp_path):
    missing = str(tmp_path / 'nowhere' / 'resnet18.pth')
    with pytest.raises(ConfigError, match=re.escape(missing) + '.*not found.*pretrained'):
        _classifier_r18_with(missing).init_weights()


def test_keys_of_neither_layout_are_an_error(tmp_path):
    path = tmp_path / 'other.pth'
    torch.save({'encoder.block1.weight': torch.zeros(3)}, path)
    with pytest.raises(ConfigError, match=re.escape(str(path)) + '.*match neither'):
        _classifier_r18_with(str(path)).init_weights()


def test_other_architecture_is_an_error_naming_both(tmp_path):
    """A ResNet-50 file for the ResNet-18 config."""
    path = tmp_path / 'resnet50.pth'
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)
    with pytest.raises(ConfigError, match=re.escape(str(path)) + '.*ResNet-50.*is a ResNet-18'):
        _classifier_r18_with(str(path)).init_weights()


@pytest.fixture(scope='module')
def tiles(tiny_synthetic, tmp_path_factory):
    return simulated_tiles(tiny_synthetic, tmp_path_factory.mktemp('tiles') / 'tiles')


@pytest.mark.slow  # builds a cyclic Runner on the tiny synthetic set (~5 s)
def test_a_file_that_does_not_fit_stops_the_cycle_before_any_training(tiny_synthetic, tiles,
                                                                      tmp_path):
    path = tmp_path / 'resnet50.pth'
    torch.save(torchvision.models.resnet50(weights=None).state_dict(), path)
    cfg = small_cyclic_cfg(tiny_synthetic, tiles, tmp_path / 'w', experiment_name='pretrained')
    cfg.pretrained = str(path)
    apply_pretrained(cfg)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ConfigError, match='ResNet-50.*is a ResNet-18'):
        runner.train()
    assert not (tmp_path / 'w' / 'cycle_1').exists()


@pytest.mark.parametrize('config', sorted(PAPER_CONFIGS))
def test_paper_configs_have_the_switch_and_fine_tune_at_the_paper_rates(config):
    assert re.search(r'^pretrained = None', (CONFIGS / config).read_text(), re.MULTILINE)
    cfg = load_config(str(CONFIGS / config), {'pretrained': '/weights/imagenet.pth'})
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == PAPER_CONFIGS[config]
    assert cfg.model.backbone.init_cfg == dict(type='PretrainedBackbone',
                                               checkpoint='/weights/imagenet.pth')
    if cfg.train_cfg.get('type') == 'CyclicLoop':
        classifier = ClassifierStep(SimpleNamespace(cfg=cfg), **cfg.train_cfg.classifier)
        classifier_cfg = classifier.load_config()
        optimizer = classifier_cfg.optim_wrapper.optimizer
        assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == CLASSIFIER_RATES
        assert classifier_cfg.model.backbone.init_cfg == cfg.model.backbone.init_cfg


def test_command_line_options_win_over_the_fine_tuning_rates():
    cfg = load_config(str(CONFIGS / 'classifier_r18_monu.py'),
                      {'pretrained': '/weights/r18.pth', 'optim_wrapper.optimizer.lr': 0.5})
    assert cfg.optim_wrapper.optimizer.lr == 0.5
    assert cfg.param_scheduler == []  # the rest of the fine-tuning settings still apply
