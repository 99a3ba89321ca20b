"""Tests of genedu.runtime (devices, seeds, draws) and genedu.train.loop (the loop every trainer shares)."""
from __future__ import annotations

import pytest
import torch

from genedu import runtime
from genedu.train import loop


def test_draws_with_a_generator_repeat_and_match_torch():
    g = runtime.make_generator(3)
    a = runtime.randn((4, 2), generator=g)
    b = torch.randn(4, 2, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    assert runtime.randn((4, 2), generator=runtime.make_generator(3), dtype=torch.float64).dtype == torch.float64
    torch.testing.assert_close(runtime.rand((5,), generator=runtime.make_generator(1)),
                               torch.rand(5, generator=torch.Generator().manual_seed(1)))
    assert torch.equal(runtime.randint(7, (6,), generator=runtime.make_generator(2)),
                       torch.randint(7, (6,), generator=torch.Generator().manual_seed(2)))
    assert torch.equal(runtime.randperm(9, generator=runtime.make_generator(2)),
                       torch.randperm(9, generator=torch.Generator().manual_seed(2)))


def test_draws_land_on_the_requested_device_and_dtype():
    x = runtime.randn((3,), generator=runtime.make_generator(0), device="meta")
    assert x.device.type == "meta" and x.shape == (3,)


def test_without_a_generator_the_global_generator_draws():
    torch.manual_seed(11)
    a = runtime.randn((3, 3))
    torch.manual_seed(11)
    torch.testing.assert_close(a, torch.randn(3, 3))


def test_unseeded_generators_differ_and_seeds_are_checked():
    assert not torch.equal(runtime.randn((8,), generator=runtime.make_generator(None)),
                           runtime.randn((8,), generator=runtime.make_generator(None)))
    with pytest.raises(ValueError, match="seed must be non-negative"):
        runtime.make_generator(-1)
    with pytest.raises(TypeError, match="seed must be an int"):
        runtime.make_generator(1.5)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        runtime.randn((2,), generator=3)


def test_seed_everything_repeats_torch_numpy_and_random():
    import random

    import numpy as np

    runtime.seed_everything(5)
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    runtime.seed_everything(5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first


def test_loop_records_every_step_calls_back_and_extends_a_history():
    seen = []
    history = loop(3, lambda i: {"loss": 1.0 / i, "other": i}, progress=False,
                   callback=lambda i, h: seen.append((i, list(h["loss"]))), history={"extra": [0]})
    assert history == {"extra": [0], "loss": [1.0, 0.5, 1.0 / 3], "other": [1, 2, 3]}
    assert seen == [(1, [1.0]), (2, [1.0, 0.5]), (3, [1.0, 0.5, 1.0 / 3])]


def test_loop_shows_a_progress_bar_and_checks_its_arguments(capsys):
    loop(2, lambda i: {"loss": float(i)}, desc="demo", progress=True)
    assert "demo" in capsys.readouterr().err
    with pytest.raises(ValueError, match="steps"):
        loop(0, lambda i: {})
    with pytest.raises(TypeError, match="callback"):
        loop(1, lambda i: {}, callback=3)


def test_loop_records_into_the_dict_it_is_given():
    given = {"a": []}
    out = loop(2, lambda i: {"a": i, "b": -i}, progress=False, history=given)
    assert out is given and given == {"a": [1, 2], "b": [-1, -2]}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fits_and_trainings_run_on_cuda_with_the_cpu_generators_numbers():
    """The density fits take CUDA data and return CUDA results equal to the CPU fit (same seeds, same
    k-means++ centres); the classifier trains on the device it is given."""
    from genedu import classifier, data, density

    x, y = data.ring_of_gaussians(300, seed=0)
    cpu = density.fit_gaussian_mixture(x.double(), 8, iters=20, seed=3)
    gpu = density.fit_gaussian_mixture(x.double().cuda(), 8, iters=20, seed=3)
    assert gpu.means.device.type == "cuda"
    torch.testing.assert_close(gpu.means.cpu(), cpu.means)
    model = density.fit_class_conditional(x.cuda(), y.cuda(), n_classes=8)
    assert model.covs.device.type == "cuda"
    images, labels = torch.rand(64, 1, 32, 32) * 2 - 1, torch.arange(64) % 10
    net = classifier.DigitClassifier()
    h = classifier.train_classifier(net, images, labels, epochs=1, progress=False, device="cuda")
    assert next(net.parameters()).device.type == "cuda" and len(h["epoch_loss"]) == 1
