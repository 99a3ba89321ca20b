"""Train the autoregressive models that chapter 8 loads (genedu/checkpoints/*.pt).

- ``made``: MADE (Germain et al. 2015) with one hidden layer of 500 units, raster order, on the 4,500
  binarised training digits (genedu.data.binarized_mnist), Adam 1e-3, batch 100 -> made_digits.pt;
- ``pixelcnn``: a small PixelCNN (van den Oord et al. 2016; 7x7 type-A then 3x3 type-B masked
  convolutions, 64 channels, 5 residual blocks) on the same digits, Adam 1e-3, batch 64 -> pixelcnn_digits.pt;
- ``transformer``: a character-level Transformer (4 pre-norm blocks, 4 heads, width 128, context 64:
  nanoGPT's CPU-sized shakespeare_char model, dropout 0.2) on 90% of genedu.data.python_reference(), Adam 1e-3 with
  cosine decay, 5000 steps of 32 windows of 65 characters -> char_transformer.pt;
- ``gru``: a one-layer GRU with 256 units on the same text, windows and schedule -> char_gru.pt.

Each prints its training time and held-out score (bits per dimension on the 500 test digits, perplexity on
the last 10% of the text) and stores them, with the loss history, in the checkpoint; the image models also
store 16 samples (drawn pixel by pixel, 784 passes) and the time they took.

    OMP_NUM_THREADS=2 python experiments/train_autoregressive.py all        # the shipped checkpoints
    python experiments/train_autoregressive.py made --epochs 2 --out /tmp  # a quick try
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import genedu  # noqa: E402
from genedu import autoregressive as ar  # noqa: E402
from genedu import checkpoints, data, train  # noqa: E402
from genedu import language_models as lm  # noqa: E402


LENGTH = 65  # characters per training window: a context of 64 and the 64 next characters


def _image_loss(model, x):
    return -ar.log_prob(model, x).mean()


def _train_images(name: str, model, config: dict, args) -> None:
    x_train, _ = data.binarized_mnist("train")
    x_test, _ = data.binarized_mnist("test")
    print(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters, {args.epochs} epochs on "
          f"{len(x_train)} binarised digits")
    start = time.perf_counter()
    history = train.train(model, _image_loss, x_train, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                          seed=args.seed, device="cpu")
    seconds = time.perf_counter() - start
    test_nats = train.evaluate(model, _image_loss, x_test, device="cpu")["loss"]
    bpd = test_nats / (784 * 0.6931471805599453)
    print(f"{name}: training time {seconds:.0f} s; held-out -log p(x) = {test_nats:.2f} nats = {bpd:.4f} bits/dim")
    start = time.perf_counter()
    samples = ar.sample(model, 16, generator=torch.Generator().manual_seed(args.seed))   # 784 passes, pixel by pixel
    sample_seconds = time.perf_counter() - start
    print(f"{name}: 16 samples in {sample_seconds:.1f} s")
    meta = {"samples": samples.to(torch.uint8), "sample_seconds": round(sample_seconds, 1),"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
            "train_seconds": round(seconds), "test_nats": round(test_nats, 3), "test_bits_per_dim": round(bpd, 5),
            "epoch_loss": [round(x, 3) for x in history["epoch_loss"]],
            "data": "genedu.data.binarized_mnist('train'); test: the 500 of 'test'", "torch": str(torch.__version__)}
    out = args.out / f"{name}.pt"
    checkpoints.save(model, out, config, **meta)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


def _train_text(name: str, model, config: dict, args) -> None:
    text = data.python_reference("all")
    vocab = lm.Vocabulary(text)
    train_tokens, val_tokens = vocab.encode(data.python_reference("train")), vocab.encode(data.python_reference("val"))
    print(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters, {args.steps} steps of "
          f"{args.batch_size} windows of {LENGTH} characters ({len(train_tokens):,} training characters, V = {len(vocab)})")
    start = time.perf_counter()
    history = lm.train_lm(model, train_tokens, steps=args.steps, batch_size=args.batch_size, length=LENGTH, lr=args.lr,
                          val_tokens=val_tokens, eval_every=100, seed=args.seed, device="cpu")
    seconds = time.perf_counter() - start
    val_nll = history["val_nll"][-1]
    print(f"{name}: training time {seconds:.0f} s ({seconds / args.steps * 1000:.0f} ms per step); held-out "
          f"{val_nll:.4f} nats per character, perplexity {lm.perplexity(val_nll):.3f}")
    meta = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
            "train_seconds": round(seconds), "chars": "".join(vocab.chars),
            "loss": [round(x, 4) for x in history["loss"]], "val_step": history["val_step"],
            "val_nll": [round(x, 4) for x in history["val_nll"]],
            "data": "genedu.data.python_reference('train'); held out: 'val' (200 windows of 65)",
            "torch": str(torch.__version__)}
    out = args.out / f"{name}.pt"
    checkpoints.save(model, out, config, **meta)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=["made", "pixelcnn", "transformer", "gru", "all"])
    parser.add_argument("--epochs", type=int, default=None, help="image models (default 30 MADE, 15 PixelCNN)")
    parser.add_argument("--steps", type=int, default=5000, help="text models (default 5000)")
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=checkpoints.CHECKPOINT_DIR, help="the folder to write to")
    args = parser.parse_args(argv)
    todo = ["made", "transformer", "gru", "pixelcnn"] if args.model == "all" else [args.model]
    for which in todo:
        run = argparse.Namespace(**vars(args))
        genedu.seed_everything(args.seed)
        if which == "made":
            run.epochs, run.batch_size = args.epochs or 30, args.batch_size or 100
            config = {"image_shape": [1, 28, 28], "hidden": [500], "seed": 0}
            _train_images("made_digits", ar.MADE(**config), config, run)
        elif which == "pixelcnn":
            run.epochs, run.batch_size = args.epochs or 15, args.batch_size or 64
            config = {"channels": 64, "n_layers": 5}
            _train_images("pixelcnn_digits", ar.PixelCNN(**config), config, run)
        elif which == "transformer":
            run.batch_size = args.batch_size or 32
            config = {"vocab_size": len(lm.Vocabulary(data.python_reference("all"))), "context": LENGTH - 1, "n_layer": 4,
                      "n_head": 4, "n_embd": 128, "dropout": 0.2}   # nanoGPT shakespeare_char's dropout
            _train_text("char_transformer", lm.TransformerLM(lm.TransformerConfig(**config)), config, run)
        else:
            run.batch_size = args.batch_size or 32
            config = {"vocab_size": len(lm.Vocabulary(data.python_reference("all"))), "hidden": 256, "n_layers": 1}
            _train_text("char_gru", lm.GRULM(**config), config, run)


if __name__ == "__main__":
    main()
