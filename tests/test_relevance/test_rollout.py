"""Attention rollout on mmpretrain Swin: the window/shift/merge bookkeeping and a planted region."""
import numpy as np
import pytest
import torch

from mmcyclic.relevance import AttentionRollout
from mmcyclic.relevance.rollout import BlockAttention, rollout_tokens


def _window_index(height, width, window, shift):
    """Window and in-window position of every real token, the way ShiftWindowMSA cuts them."""
    hp, wp = -(-height // window) * window, -(-width // window) * window
    index = {}
    for r in range(hp):
        for c in range(wp):
            # Rolled position (r, c) holds token ((r + s) mod hp, (c + s) mod wp).
            tr, tc = (r + shift) % hp, (c + shift) % wp
            if tr < height and tc < width:
                w = (r // window) * (wp // window) + c // window
                index[tr * width + tc] = (w, (r % window) * window + c % window)
    return index


def _dense_block(block):
    """The block's L x L matrix 0.5 A + 0.5 I, written out entry by entry."""
    n = block.height * block.width
    index = _window_index(block.height, block.width, block.window, block.shift)
    a = np.zeros((n, n))
    attn = block.attn[0].numpy()
    for i, (wi, pi) in index.items():
        for j, (wj, pj) in index.items():
            if wi == wj:
                a[i, j] = attn[wi, pi, pj]
    a /= a.sum(1, keepdims=True)  # pad columns dropped, rows re-normalised
    return 0.5 * a + 0.5 * np.eye(n)


def _dense_merge(height, width):
    """M[parent, child] = 1 / #children of the parent."""
    ph, pw = -(-height // 2), -(-width // 2)
    m = np.zeros((ph * pw, height * width))
    for r in range(height):
        for c in range(width):
            m[(r // 2) * pw + c // 2, r * width + c] = 1
    return m / m.sum(1, keepdims=True)


def test_vector_rollout_equals_dense_product():
    rng = np.random.default_rng(0)
    window = 3
    # Stage 0: 7x5 grid (padded to 9x6), a regular and a shifted block;
    # stage 1: 4x3 grid, one shifted block (window larger than the grid).
    layout = [(7, 5, 0), (7, 5, 1), (4, 3, 1)]
    blocks = []
    for h, w, s in layout:
        n_windows = (-(-h // window)) * (-(-w // window))
        attn = rng.random((1, n_windows, window * window, window * window))
        attn /= attn.sum(-1, keepdims=True)
        blocks.append(BlockAttention(h, w, window, s, torch.from_numpy(attn)))
    u = rng.random((1, 4, 3))
    got = rollout_tokens(torch.from_numpy(u), blocks)[0].numpy().ravel()
    product = (_dense_block(blocks[2]) @ _dense_merge(7, 5) @ _dense_block(blocks[1])
               @ _dense_block(blocks[0]))
    np.testing.assert_allclose(got, u.ravel() @ product, rtol=1e-10)
    assert got.sum() == pytest.approx(u.sum())  # rows of every factor sum to 1


@pytest.mark.parametrize('size', [56, 64])
def test_rollout_shape_and_normalisation(swin_small, size):
    tiles = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)) * 255
    rollout = AttentionRollout(swin_small)
    maps = rollout(tiles)
    assert maps.shape == (2, size, size)
    assert torch.all(maps >= 0)
    torch.testing.assert_close(maps.sum(dim=(1, 2)), torch.ones(2, dtype=maps.dtype))
    assert [(b.height, b.shift) for b in rollout.blocks] == [
        (size // 4, 0), (size // 4, 3), (size // 8, 0), (size // 8, 3)]
    class_maps = AttentionRollout(swin_small, token_weighting='class', head_fusion='max')(tiles)
    assert class_maps.shape == (2, size, size) and torch.all(class_maps >= 0)
    with pytest.raises(ValueError, match='head_fusion'):
        AttentionRollout(swin_small, head_fusion='median')


def test_rollout_highlights_planted_region(swin_small):
    """Stage-0 keys respond to bright patches: rollout must put its mass on them.

    The patch embedding writes each patch's brightness into channel 0 only; the
    background is the preprocessor's mean colour, so its tokens are exactly 0
    and stay 0 through the LayerNorms. In every stage-0 block the query is a
    constant (qkv bias) and the key reads channel 0, so tokens attend to the
    bright tokens of their window; attention outputs and FFNs are zeroed so
    the tokens never change, and stage-1 attention is uniform.
    """
    model = swin_small
    backbone = model.backbone
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for m in model.modules():
            if isinstance(m, torch.nn.LayerNorm):
                m.weight.fill_(1)
        backbone.patch_embed.projection.weight[0].fill_(1.0 / 48)
        c = backbone.stages[0].embed_dims
        for block in backbone.stages[0].blocks:
            block.attn.w_msa.qkv.bias[:c].fill_(1.0)  # q = 1
            block.attn.w_msa.qkv.weight[c:2 * c, 0] = 1.0  # k = channel 0
    mean = model.data_preprocessor.mean.view(3, 1, 1)
    tiles = mean.expand(3, 56, 56).clone()
    tiles[:, 8:20, 32:44] = 255.0  # the planted bright square (3x3 tokens)
    maps = AttentionRollout(model)(tiles[None])[0]
    inside = maps[8:20, 32:44].mean()
    outside = torch.cat([maps[:8].flatten(), maps[20:].flatten()]).mean()
    assert inside > 5 * outside
