"""genedu.autoregressive: MADE's and PixelCNN's masks checked by the property they exist for (the
gradient of output d with respect to input j is zero unless j comes before d), their likelihoods
checked by enumeration (the probabilities of all 2^D images sum to 1), and sequential sampling
checked against the model's own conditionals."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from genedu import autoregressive as ar


def jacobian_support(model, shape) -> torch.Tensor:
    """(D, D) bool: entry (d, j) when output d changes with input j (by autograd, at a random x)."""
    x = torch.bernoulli(torch.full((1, *shape), 0.5, dtype=torch.float64)).requires_grad_(True)
    model = model.double()
    out = model(x).flatten()
    rows = [torch.autograd.grad(out[d], x, retain_graph=True)[0].flatten() != 0 for d in range(out.numel())]
    return torch.stack(rows)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_made_is_autoregressive_for_random_orderings(seed):
    D = 12
    ordering = torch.randperm(D, generator=torch.Generator().manual_seed(seed))
    model = ar.MADE((1, 3, 4), hidden=(40, 40), ordering=ordering, seed=seed)
    support = jacobian_support(model, (1, 3, 4))
    position = torch.empty(D, dtype=torch.long)
    position[ordering] = torch.arange(D)
    allowed = position[None, :] < position[:, None]          # input j before output d
    assert not (support & ~allowed).any(), "an output depends on an input at or after it"
    assert support.sum() > 0.5 * allowed.sum(), "the masks cut most of the allowed connections"
    assert not support[ordering[0]].any(), "the first pixel must depend on nothing"


def test_made_masks_follow_the_degree_rule():
    masks = ar.made_masks(5, (7, 6), seed=3)
    assert [tuple(m.shape) for m in masks] == [(7, 5), (6, 7), (5, 6)]
    product = masks[2] @ masks[1] @ masks[0]                   # paths from input j to output d
    assert torch.equal(product > 0, (product > 0) & torch.tril(torch.ones(5, 5, dtype=torch.bool), -1))
    assert (product > 0).sum() == 10, "every allowed connection of a 5-input MADE should exist here"


def test_pixelcnn_masks():
    assert torch.equal(ar.pixelcnn_mask(3, "A"), torch.tensor([[1., 1, 1], [1, 0, 0], [0, 0, 0]]))
    assert torch.equal(ar.pixelcnn_mask(3, "B"), torch.tensor([[1., 1, 1], [1, 1, 0], [0, 0, 0]]))
    assert ar.pixelcnn_mask(7, "A").sum() == 24 and ar.pixelcnn_mask(7, "B").sum() == 25


def test_pixelcnn_sees_only_the_pixels_before_it_in_raster_order():
    torch.manual_seed(0)
    support = jacobian_support(ar.PixelCNN(channels=8, n_layers=3), (1, 5, 5))
    D = 25
    allowed = torch.tril(torch.ones(D, D, dtype=torch.bool), -1)
    assert not (support & ~allowed).any(), "a pixel depends on itself or on a later pixel"
    assert support[24, 23] and support[24, 0] is not None and support[6, 0], support


@pytest.mark.parametrize("make", [lambda: ar.MADE((1, 2, 2), hidden=(16,), seed=0),
                                  lambda: ar.PixelCNN(channels=8, n_layers=2)], ids=["MADE", "PixelCNN"])
def test_probabilities_of_all_images_sum_to_one(make):
    torch.manual_seed(0)
    model = make().double()
    images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4)), dtype=torch.float64).view(16, 1, 2, 2)
    total = ar.log_prob(model, images).exp().sum()
    assert torch.isclose(total, torch.tensor(1.0, dtype=torch.float64), atol=1e-12), total


def test_bits_per_dim_is_nats_over_dimensions_and_log_2():
    log_px = torch.tensor([-784 * math.log(2), -392 * math.log(2)])
    assert torch.allclose(ar.bits_per_dim(log_px, 784), torch.tensor([1.0, 0.5]))


def test_sampling_follows_the_conditionals():
    """A 2-pixel MADE whose logits are set by hand: x1 ~ Bernoulli(0.2), x2 = copy of x1 mostly."""
    torch.manual_seed(0)
    model = ar.MADE((1, 1, 2), hidden=(8,), seed=0)
    with torch.no_grad():
        images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=2))).view(4, 1, 1, 2)
        probs = ar.log_prob(model, images).exp()
    x = ar.sample(model, 20_000, generator=torch.Generator().manual_seed(1), progress=False)
    assert x.shape == (20_000, 1, 1, 2) and set(x.unique().tolist()) <= {0.0, 1.0}
    counts = torch.stack([(x.view(-1, 2) == images.view(4, 2)[i]).all(dim=1).float().mean() for i in range(4)])
    assert torch.allclose(counts, probs, atol=0.015), (counts, probs)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="ordering must be a permutation"):
        ar.made_masks(4, (8,), ordering=torch.tensor([0, 1, 1, 2]))
    with pytest.raises(ValueError, match="hidden must name at least one"):
        ar.made_masks(4, ())
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        ar.pixelcnn_mask(4, "A")
    with pytest.raises(ValueError, match="mask_type must be 'A' or 'B'"):
        ar.pixelcnn_mask(3, "C")
    with pytest.raises(ValueError, match=r"x must be images of shape \(B, 1, 28, 28\)"):
        ar.MADE()(torch.zeros(2, 784))


def test_binarized_digits_are_a_fixed_draw_of_the_grey_digits():
    from genedu import data
    x, y = data.binarized_mnist("test")
    grey, grey_y = data.mnist("test")
    assert x.shape == (500, 1, 28, 28) and torch.equal(y, grey_y) and set(x.unique().tolist()) == {0.0, 1.0}
    assert abs(x.mean() - grey.mean()) < 0.005, "a pixel should be 1 with probability its grey level"
    assert ((x == 1) <= (grey > 0)).all(), "a black pixel became white"
    assert torch.equal(x, data.binarized_mnist("test")[0]), "the binarisation must be the same every time"
    train, _ = data.binarized_mnist("train", flatten=True)
    assert train.shape == (4500, 784)


def test_made_degrees_cover_the_range_in_a_narrow_layer():
    """784 inputs, 500 hidden units: the last output must see almost every earlier pixel (random or
    bunched degrees would cut it off from most of them)."""
    masks = ar.made_masks(784, (500,), seed=0)
    seen = (masks[1] @ masks[0] > 0)                     # (784, 784) output d sees input j
    assert seen[783].sum() >= 780 and not seen.triu().any()


def test_made_takes_masks_and_rebuilds_its_own_from_the_config():
    masks = ar.made_masks(16, (20,), seed=3)
    made = ar.MADE((1, 4, 4), hidden=(20,), masks=masks)
    assert torch.equal(made.net[0].mask, masks[0]) and torch.equal(made.net[2].mask, masks[1])
    assert "net.0.mask" not in made.state_dict()         # masks are rebuilt from the config, not stored
    with pytest.raises(ValueError, match=r"masks must be 2 tensors of shapes \(20, 16\), \(16, 20\)"):
        ar.MADE((1, 4, 4), hidden=(20,), masks=masks[::-1])


def test_shipped_checkpoints_load_and_score_held_out_data():
    from genedu import checkpoints, data
    x_test, _ = data.binarized_mnist("test")
    for name in ("made_digits", "pixelcnn_digits"):
        model, info = checkpoints.load(name)
        with torch.no_grad():
            bpd = float(ar.bits_per_dim(ar.log_prob(model, x_test[:100]), 784).mean())
        assert 0.1 < bpd < 0.25, (name, bpd)
        assert info["test_bits_per_dim"] < 0.25
