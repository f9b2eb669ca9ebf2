"""LRP on canonised mmpretrain ResNets: unchanged outputs, conservation, clean removal."""
import pytest
import torch

from mmcyclic.relevance import LRP, RELEVANCE, build_relevance, conv_norm_pairs


def _tiles(n: int = 2, size: int = 64) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(1)) * 255


def test_every_batch_norm_is_paired(make_classifier):
    for model in (make_classifier('classifier_r18.py'),
                  make_classifier('classifier_r50.py', avg_down=True),
                  make_classifier('classifier_r18.py', deep_stem=True)):
        paired = {norm for _, norm in conv_norm_pairs(model)}
        norms = {name for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
        assert paired == norms


@pytest.mark.parametrize('config,backbone', [('classifier_r18.py', {}),
                                             ('classifier_r50.py', {'avg_down': True})])
def test_canonised_outputs_equal_original(make_classifier, config, backbone):
    model = make_classifier(config, **backbone)
    lrp = LRP(model)
    inputs = lrp.normalise(_tiles())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        original = model(inputs, mode='tensor')
        with lrp.attached():
            canonised = model(inputs, mode='tensor')
        restored = model(inputs, mode='tensor')
    # Folding BatchNorm into the convs changes only the float rounding.
    torch.testing.assert_close(canonised, original, rtol=1e-4, atol=1e-4)
    assert torch.equal(restored, original)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    assert all(p.requires_grad for p in model.parameters())


def test_conservation_exact_without_biases(resnet18):
    # With zero_params=['bias'] every rule redistributes all of its relevance
    # (z+, epsilon, Norm for GAP and the residual Sum, Flat at the input), so the
    # input relevance sums to the explained logit up to the 1e-6 stabilisers.
    out = LRP(resnet18, composite_kwargs=dict(zero_params=['bias'])).explain(_tiles())
    logit = out['logits'][:, 1]
    torch.testing.assert_close(out['relevance'].sum(dim=(1, 2)), logit, rtol=1e-3, atol=1e-5)


def test_conservation_with_biases(make_classifier):
    # Bound, not tolerance: with biases (the folded BatchNorms give every conv
    # one), z+ passes on only the share x w+ / (sum x w+ + b+) of a neuron's
    # relevance, so positive biases absorb the rest and the input relevance of a
    # positive explained logit lies in (0, logit]. The head weights are set to
    # the mean pooled feature (>= 0 after the ReLUs) with zero bias so that the
    # head conserves and every relevance is positive. How much the biases absorb
    # depends on their size: ~55 % with these random statistics, 2.4 % measured
    # on a ResNet-18; test_conservation_exact_without_biases shows that the
    # biases are the only leak. Without the residual canonizer the sum is ~250x.
    model = make_classifier('classifier_r18.py')
    lrp = LRP(model)
    tiles = _tiles()
    with torch.no_grad():
        pooled = model.extract_feat(lrp.normalise(tiles))[-1]
        model.head.fc.weight[1] = pooled.mean(0)
        model.head.fc.bias.zero_()
    out = lrp.explain(tiles)
    ratio = out['relevance'].sum(dim=(1, 2)) / out['logits'][:, 1]
    assert torch.all(out['logits'][:, 1] > 0)
    assert torch.all((ratio > 0.2) & (ratio <= 1 + 1e-4)), ratio
    broken = LRP(model, canonize=False).explain(tiles)
    broken_ratio = broken['relevance'].sum(dim=(1, 2)) / broken['logits'][:, 1]
    assert torch.all(broken_ratio.abs() > 10), broken_ratio


def test_target_choice(resnet18):
    tiles = _tiles()
    predicted = LRP(resnet18, target='pred').explain(tiles)
    assert torch.equal(predicted['target'], predicted['logits'].argmax(1))
    negative = LRP(resnet18, target=0, composite_kwargs=dict(zero_params=['bias'])).explain(tiles)
    torch.testing.assert_close(negative['relevance'].sum(dim=(1, 2)), negative['logits'][:, 0],
                               rtol=1e-3, atol=1e-5)
    assert predicted['relevance'].shape == (2, 64, 64)


def test_registry_and_bad_arguments(resnet18):
    assert RELEVANCE.get('LRP') is LRP
    assert isinstance(build_relevance(dict(type='LRP', target=1), resnet18), LRP)
    with pytest.raises(KeyError, match='unknown zennit composite'):
        LRP(resnet18, composite='nope')
    with pytest.raises(ValueError, match='target'):
        LRP(resnet18, target='positive')


def test_fast_zplus_equals_zennit_zplus(make_classifier):
    model = make_classifier('classifier_r50.py', avg_down=True)  # Bottleneck blocks
    tiles = _tiles(n=1, size=32)
    fast = LRP(model).explain(tiles)['relevance']
    reference = LRP(model, fast_zplus=False).explain(tiles)['relevance']
    torch.testing.assert_close(fast, reference, rtol=1e-4, atol=1e-6 * reference.abs().max())


def test_difference_conserves_the_logit_difference(resnet18):
    """difference=True explains z_pos - z_neg: without biases the input relevance sums to it,
    and it is the positive map minus the negative one (LRP is linear in the output weights)."""
    kwargs = dict(composite_kwargs=dict(zero_params=['bias']))
    tiles = _tiles()
    out = LRP(resnet18, difference=True, **kwargs).explain(tiles)
    difference = out['logits'][:, 1] - out['logits'][:, 0]
    torch.testing.assert_close(out['relevance'].sum(dim=(1, 2)), difference, rtol=1e-3, atol=1e-5)
    positive = LRP(resnet18, target=1, **kwargs).explain(tiles)['relevance']
    negative = LRP(resnet18, target=0, **kwargs).explain(tiles)['relevance']
    scale = positive.abs().max()
    torch.testing.assert_close(out['relevance'], positive - negative, rtol=1e-3, atol=1e-4 * scale)
