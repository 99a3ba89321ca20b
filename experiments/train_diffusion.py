"""Train the digits denoiser that chapter 7 loads: genedu/checkpoints/digits_unet.pt.

A small U-Net (genedu.denoisers.UNetDenoiser) predicts the noise of DDPM (Ho et al. 2020) with the
linear schedule (T = 1000, beta from 1e-4 to 0.02) on the 4,500 training digits of genedu.data.mnist,
scaled to [-1, 1], with Adam (cosine-decayed learning rate) and an exponential moving average of the
weights. It prints the training time and writes the checkpoint (about 0.7 MB with the defaults).

    OMP_NUM_THREADS=1 python experiments/train_diffusion.py                  # the shipped checkpoint
    python experiments/train_diffusion.py --steps 500 --out /tmp/digits.pt  # a quick try

The defaults took 38 minutes (571 ms per step) on one thread of a heavily shared 2-core CPU; a GPU is used
when present.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import genedu  # noqa: E402
from genedu import checkpoints, data, diffusion  # noqa: E402
from genedu.denoisers import UNetDenoiser  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=checkpoints.CHECKPOINT_DIR / "digits_unet.pt")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    genedu.seed_everything(args.seed)
    x_train, _ = data.mnist("train", value_range=(-1.0, 1.0))
    T, beta_start, beta_end = 1000, 1e-4, 0.02
    schedule = diffusion.Schedule(diffusion.linear_beta_schedule(T, beta_start, beta_end))
    model = UNetDenoiser(channels=args.channels)
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters, {args.steps} steps of batch {args.batch_size} "
          f"on {len(x_train)} digits, device {genedu.device()}")
    start = time.perf_counter()
    history = diffusion.train_denoiser(model, x_train, schedule, steps=args.steps, batch_size=args.batch_size,
                                       lr=args.lr, ema_decay=args.ema_decay, seed=args.seed, log_every=200)
    seconds = time.perf_counter() - start
    print(f"training time: {seconds:.0f} s ({seconds / args.steps * 1000:.0f} ms per step); "
          f"final loss {history['loss'][-1]:.4f}")
    meta = {"schedule": "linear", "T": T, "beta_start": beta_start, "beta_end": beta_end,
            "value_range": "[-1, 1]", "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
            "ema_decay": args.ema_decay, "seed": args.seed, "train_seconds": round(seconds),
            "loss_history": [round(x, 5) for x in history["loss"]], "data": "genedu.data.mnist('train')",
            "torch": str(torch.__version__)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    checkpoints.save(model, args.out, {"channels": args.channels}, **meta)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
