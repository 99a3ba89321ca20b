"""Compute chapter 6's experiment table and write it to book/data/mode_collapse_table.csv.

For each dataset (the ring of 8 Gaussians, the grid of 25) and each method (the vanilla GAN and the remedies
of genedu.remedies), train with experiments.mode_collapse.benchmark_run over several seeds and evaluate 2,500 samples
with the VEEGAN/PacGAN protocol (genedu.metrics.mode_coverage). The CSV holds one row per
(dataset, method): mean and standard deviation over the seeds of the modes captured and of the high-quality
share, the mean training time (wall, and the CPU time of the process: what the run takes alone on a quiet core),
and the per-seed values; book/ch06_mode_collapse.md loads and plots it.

    OMP_NUM_THREADS=1 python experiments/mode_collapse_table.py --jobs 2           # the book's table
    OMP_NUM_THREADS=1 python experiments/mode_collapse_table.py --datasets ring --methods PacGAN3 --append
    OMP_NUM_THREADS=1 python experiments/mode_collapse_table.py --seeds 0 1 --steps 1000 --jobs 2

Runs are independent: ``--jobs N`` runs N of them in parallel processes (one thread each).
"""
from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from experiments.mode_collapse import BENCHMARK_STEPS, METHODS  # noqa: E402


def _run(args: tuple) -> dict:
    method, dataset, steps, seed = args
    import torch

    torch.set_num_threads(1)
    from experiments.mode_collapse import benchmark_run

    r = benchmark_run(method, dataset, steps=steps, seed=seed)
    print(f"{dataset:5s} {method:13s} seed {seed}: {r['modes']:2d} modes, {r['high_quality']:.3f} high quality, "
          f"{r['seconds']:.1f} s ({r['cpu_seconds']:.1f} s CPU)", flush=True)
    return {"dataset": dataset, "method": method, "seed": seed, "steps": steps, "modes": r["modes"],
            "hq": r["high_quality"], "seconds": r["seconds"], "cpu_seconds": r["cpu_seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), help=f"default: {', '.join(METHODS)}; "
                        "also PacGAN<m> for another packing degree")
    parser.add_argument("--datasets", nargs="+", default=["ring", "grid"])
    # every method gets the same budget: BENCHMARK_STEPS generator steps of 128 samples (packs, for PacGAN),
    # benchmark_run's defaults; WGAN-GP and the unrolled GAN cost several discriminator passes per step (the CSV
    # records the times)
    parser.add_argument("--steps", type=int, default=BENCHMARK_STEPS, help="generator steps for every method "
                                                                          f"(default {BENCHMARK_STEPS})")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "book" / "data" / "mode_collapse_table.csv"))
    parser.add_argument("--append", action="store_true", help="add the rows to an existing table")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    tasks = [(m, d, args.steps, s)
             for d in args.datasets for m in args.methods for s in args.seeds]
    t0 = time.time()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(_run, tasks))
    else:
        rows = [_run(t) for t in tasks]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fields = ["dataset", "method", "steps", "n_seeds", "modes_mean", "modes_std", "hq_mean", "hq_std",
              "seconds_mean", "cpu_seconds_mean", "modes_per_seed", "hq_per_seed"]
    append = args.append and out.exists()
    with out.open("a" if append else "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        if not append:
            writer.writeheader()
        for d in args.datasets:
            for m in args.methods:
                sel = [r for r in rows if r["dataset"] == d and r["method"] == m]
                modes = [r["modes"] for r in sel]
                hq = [r["hq"] for r in sel]
                writer.writerow({
                    "dataset": d, "method": m, "steps": sel[0]["steps"], "n_seeds": len(sel),
                    "modes_mean": round(statistics.mean(modes), 3),
                    "modes_std": round(statistics.stdev(modes), 3) if len(sel) > 1 else 0.0,
                    "hq_mean": round(statistics.mean(hq), 4),
                    "hq_std": round(statistics.stdev(hq), 4) if len(sel) > 1 else 0.0,
                    "seconds_mean": round(statistics.mean(r["seconds"] for r in sel), 1),
                    "cpu_seconds_mean": round(statistics.mean(r["cpu_seconds"] for r in sel), 1),
                    "modes_per_seed": " ".join(str(x) for x in modes),
                    "hq_per_seed": " ".join(f"{x:.3f}" for x in hq)})
    print(f"wrote {out} ({len(rows)} runs, {time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
