"""Small mmpretrain classifiers for the relevance tests (random weights, nothing downloaded)."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmcyclic.seeds import load_classifier

CONFIGS = Path(__file__).resolve().parents[2] / 'configs' / '_base_' / 'models'


def randomise_batch_norms(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm trained-looking statistics, so folding them adds real biases."""
    generator = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.running_mean.copy_(torch.rand(n, generator=generator) * 0.4 - 0.2)
            module.running_var.copy_(torch.rand(n, generator=generator) * 1.5 + 0.5)
            module.weight.data.copy_(torch.rand(n, generator=generator) + 0.5)
            module.bias.data.copy_(torch.rand(n, generator=generator) * 0.4 - 0.2)


def build(config: str, **backbone) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = Config.fromfile(str(CONFIGS / config))
    cfg.model.backbone.update(backbone)
    model = load_classifier(cfg)
    randomise_batch_norms(model)
    return model.eval()


@pytest.fixture(scope='module')
def make_classifier():
    """``make_classifier(config_name, **backbone_overrides)`` -> a small classifier."""
    return build


@pytest.fixture(scope='module')
def resnet18() -> torch.nn.Module:
    return build('classifier_r18.py')


@pytest.fixture(scope='module')
def swin_small() -> torch.nn.Module:
    """mmpretrain Swin with a tiny custom arch: 2 stages, 7x7 windows, pad_small_map."""
    torch.manual_seed(0)
    cfg = Config.fromfile(str(CONFIGS / 'classifier_swin_t.py'))
    cfg.model.backbone.update(arch=dict(embed_dims=24, depths=[2, 2], num_heads=[2, 2]),
                              out_indices=(1, ), drop_path_rate=0.0)
    cfg.model.head.in_channels = 48
    return load_classifier(cfg).eval()
