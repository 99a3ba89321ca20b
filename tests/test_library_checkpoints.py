"""Tests of genedu.checkpoints: one format ({config, state_dict, extras}) and one loader for every shipped model."""
from __future__ import annotations

import pytest
import torch

from genedu import checkpoints
from genedu.classifier import DigitClassifier
from genedu.denoisers import UNetDenoiser


@pytest.mark.parametrize("name", sorted(checkpoints.MODELS))
def test_every_shipped_checkpoint_has_the_one_format(name):
    """The file itself (read without genedu's loader) holds config, state_dict and nothing that needs code."""
    raw = torch.load(checkpoints.CHECKPOINT_DIR / f"{name}.pt", map_location="cpu", weights_only=True)
    assert isinstance(raw["config"], dict) and isinstance(raw["state_dict"], dict)
    model = checkpoints.MODELS[name](**raw["config"])
    assert set(model.state_dict()) == set(raw["state_dict"])


def test_digits_unet_keeps_its_schedule_and_weights():
    model, extras = checkpoints.load("digits_unet")
    assert isinstance(model, UNetDenoiser) and not model.training
    assert extras["config"] == {"channels": 16}
    assert (extras["schedule"], extras["T"], extras["beta_start"], extras["beta_end"]) == ("linear", 1000, 1e-4, 0.02)
    raw = torch.load(checkpoints.CHECKPOINT_DIR / "digits_unet.pt", weights_only=True)["state_dict"]
    for key, value in model.state_dict().items():
        assert torch.equal(value, raw[key]), key


def test_save_then_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = DigitClassifier(n_classes=10, width=8)
    path = checkpoints.save(model, tmp_path / "sub" / "clf.pt", {"n_classes": 10, "width": 8}, test_accuracy=0.5,
                            history=[1.0, 2.0])
    assert path.exists()
    loaded, extras = checkpoints.load("digit_classifier", path=path)
    assert extras == {"config": {"n_classes": 10, "width": 8}, "test_accuracy": 0.5, "history": [1.0, 2.0]}
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    x = torch.rand(3, 1, 32, 32)
    model.eval()
    torch.testing.assert_close(loaded(x), model(x))


def test_bad_arguments_name_what_was_expected(tmp_path):
    with pytest.raises(ValueError, match="name must be one of"):
        checkpoints.load("vae")
    with pytest.raises(FileNotFoundError, match="experiments/train_diffusion.py"):
        checkpoints.load("digits_unet", path=tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="model must be"):
        checkpoints.save("not a model", tmp_path / "x.pt", {})
    with pytest.raises(TypeError, match="config must be"):
        checkpoints.save(DigitClassifier(), tmp_path / "x.pt", [10])
    with pytest.raises(ValueError, match="extras must not be named"):
        checkpoints.save(DigitClassifier(), tmp_path / "x.pt", {}, state_dict={})
