"""Retrain the checkpoints of chapter 5 (DCGAN) that ship in genedu/checkpoints/.

    OMP_NUM_THREADS=1 python experiments/train_dcgan.py            # all three (about 20 minutes on one quiet CPU core)
    python experiments/train_dcgan.py --only classifier            # or dcgan, cgan
    python experiments/train_dcgan.py --steps 5000 --out /tmp/ck   # longer GAN runs, written elsewhere

- digit_classifier.pt  the CNN of genedu.classifier, trained on the 4,500 training digits (held-out accuracy printed)
- dcgan_digits.pt      a DCGAN generator (nz=100, ngf=32, 32x32 digits) trained 3000 steps with genedu.gan.train_gan,
                       with the fixed-noise samples recorded during training (the page's "as training goes on")
- cgan_digits.pt       the conditional DCGAN generator (one-hot label concatenated to z; label planes in D)

It prints the training times and the classifier's scores of each generator's samples next to those of the
real held-out digits: the share classified with confidence above 0.9, and how many of the 10 classes appear.
Everything is seeded; results still differ slightly across machines and torch versions.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import genedu  # noqa: E402
from genedu import classifier as clf  # noqa: E402
from genedu import checkpoints, data, dcgan, gan  # noqa: E402

NZ, WIDTH, SIZE = 100, 32, 32


OUT = checkpoints.CHECKPOINT_DIR


def save(name: str, model: torch.nn.Module, config: dict, **extras) -> None:
    path = checkpoints.save(model, OUT / f"{name}.pt", config, **extras)
    print(f"saved {path} ({path.stat().st_size / 1e6:.2f} MB)")


def train_classifier_checkpoint() -> None:
    x, y = data.mnist32("train")
    x_test, y_test = data.mnist32("test")
    start = time.time()
    torch.manual_seed(0)   # the initial weights, then dropout
    model = clf.DigitClassifier(n_classes=10, width=32)
    clf.train_classifier(model, x, y, seed=0, progress=True)
    seconds = time.time() - start
    acc = clf.accuracy(model, x_test, y_test)
    print(f"classifier: {seconds:.0f} s of training, held-out accuracy {acc:.4f} on {len(y_test)} digits")
    save("digit_classifier", model, {"n_classes": 10, "width": 32}, test_accuracy=acc, train_seconds=seconds)


def _snapshots(history: dict) -> dict:
    steps = torch.tensor([s for s, _ in history["snapshots"]])
    images = torch.stack([((imgs.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8) for _, imgs in history["snapshots"]])
    return {"snapshot_steps": steps, "snapshots": images}


def train_gan_checkpoint(conditional: bool, steps: int) -> None:
    genedu.seed_everything(0)
    x, y = data.mnist32("train")
    if conditional:
        config = {"nz": NZ, "n_classes": 10, "ngf": WIDTH, "nc": 1, "image_size": SIZE}
        G = dcgan.ConditionalDCGANGenerator(**config)
        D = dcgan.ConditionalDCGANDiscriminator(nc=1, n_classes=10, ndf=WIDTH, image_size=SIZE)
        training_data = (x, y)
    else:
        config = {"nz": NZ, "ngf": WIDTH, "nc": 1, "image_size": SIZE}
        G = dcgan.DCGANGenerator(**config)
        D = dcgan.DCGANDiscriminator(nc=1, ndf=WIDTH, image_size=SIZE)
        training_data = x
    G.apply(dcgan.weights_init)
    D.apply(dcgan.weights_init)
    start = time.time()
    history = gan.train_gan(G, D, training_data, NZ, steps=steps, batch_size=64, conditional=conditional,
                            snapshot_every=max(1, steps // 20), device="cpu", seed=0, progress=True)
    seconds = time.time() - start
    name = "cgan_digits" if conditional else "dcgan_digits"
    print(f"{name}: {steps} generator steps (batch 64, k=1) in {seconds:.0f} s")
    save(name, G.eval(), config, steps=steps, train_seconds=seconds, device=str(torch.get_num_threads()) + " CPU threads",
         d_loss=torch.tensor(history["d_loss"]), g_loss=torch.tensor(history["g_loss"]),
         d_real=torch.tensor(history["d_real"]), d_fake=torch.tensor(history["d_fake"]), **_snapshots(history))


def report() -> None:
    classifier, extras = checkpoints.load("digit_classifier")
    x_test, y_test = data.mnist32("test")
    print(f"classifier held-out accuracy: {extras['test_accuracy']:.4f}")
    rows = {"real held-out digits": x_test}
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        G, gx = checkpoints.load("dcgan_digits")
        rows[f"DCGAN samples ({gx['train_seconds']:.0f} s)"] = G(torch.randn(1000, NZ, generator=g))
        C, cx = checkpoints.load("cgan_digits")
        labels = torch.arange(10).repeat_interleave(100)
        rows[f"conditional samples ({cx['train_seconds']:.0f} s)"] = cond = C(torch.randn(1000, NZ, generator=g), labels)
    for what, images in rows.items():
        s = clf.classifier_scores(classifier, images)
        print(f"{what:32s} confident > 0.9: {s['confident']:.3f}   classes present: {s['classes_present']}   "
              f"histogram {s['histogram'].tolist()}")
    s = clf.classifier_scores(classifier, cond)
    print(f"conditional samples classified as the requested digit: {(s['predictions'] == labels).float().mean():.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["classifier", "dcgan", "cgan", "report"], default=None)
    parser.add_argument("--steps", type=int, default=3000, help="generator steps of each GAN (default 3000)")
    parser.add_argument("--out", type=Path, default=checkpoints.CHECKPOINT_DIR,
                        help="where to write the checkpoints (default genedu/checkpoints; the report reads them there)")
    args = parser.parse_args()
    global OUT
    OUT = args.out
    torch.set_num_threads(1)
    if args.only in (None, "classifier"):
        train_classifier_checkpoint()
    if args.only in (None, "dcgan"):
        train_gan_checkpoint(False, args.steps)
    if args.only in (None, "cgan"):
        train_gan_checkpoint(True, args.steps)
    if args.only in (None, "report") and all((checkpoints.CHECKPOINT_DIR / f"{n}.pt").exists()
                                              for n in ("digit_classifier", "dcgan_digits", "cgan_digits")):
        report()


if __name__ == "__main__":
    main()
