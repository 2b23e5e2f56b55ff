"""Cost of a first-order prediction of mean ||K - K_inf||_op / ||K_inf||_op against sampling the same statistic.

For each depth: the first-order model (``first_order_kernel`` + ``predicted_deviations``, SCIENCE §6.1) of the
quadratic-width ReLU network on n points of the sphere, whose cost does not depend on the width; and, at each
base width m, sampled kernels: seconds per draw, the measured mean op_rel and its relative standard error, and
the draws (and seconds) that mean needs for a 1% standard error, beside the model's prediction at that m.

    .venv/bin/python benchmarks/bench_first_order.py            # depths 2, 4, 8; m = 64, 256, 1024; ~6 min
    .venv/bin/python benchmarks/bench_first_order.py --quick    # depths 2, 4; m = 64, 256; ~1 min
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ntk_eoc import Activation, sample_kernels, widths
from ntk_eoc.math.datasets import sphere
from ntk_eoc.math.fluctuations import first_order_kernel, predicted_deviations


def _op_rel(k: np.ndarray, limit: np.ndarray) -> np.ndarray:
    ref = np.max(np.abs(np.linalg.eigvalsh(limit)))
    return np.max(np.abs(np.linalg.eigvalsh(k.astype(np.float64) - limit)), axis=-1) / ref


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--quick", action="store_true", help="depths 2, 4 and m = 64, 256")
    cli.add_argument("--n", type=int, default=32, help="data points (m_0 = 16)")
    cli.add_argument("--samples", type=int, default=2**14, help="Monte Carlo neurons per layer of the model")
    cli.add_argument("--draws", type=int, default=128, help="sampled draws per base width")
    cli.add_argument("--out", default=str(Path(__file__).parent / "results" / "first_order.csv"))
    args = cli.parse_args()
    depths, ms = ([2, 4], [64, 256]) if args.quick else ([2, 4, 8], [64, 256, 1024])
    relu, x = Activation.named("relu"), sphere(args.n, 16, 0)
    rows = []
    print(f"n = {args.n}, relu, quadratic widths, {args.samples} neurons per layer, {args.draws} draws per width")
    print(f"{'l':>3} {'model s':>8} {'m':>6} {'s/draw':>8} {'measured':>9} {'rel SE':>7} {'predicted':>9} "
          f"{'ratio':>6} {'draws@1%':>9} {'s@1%':>8}")  # fmt: skip
    for depth in depths:
        began = time.perf_counter()
        model = first_order_kernel(relu, x, widths("quadratic", 1, depth, input_dim=16)[1:-1], samples=args.samples)
        unit = predicted_deviations(model, draws=4096)["op_rel"].mean()
        model_s = time.perf_counter() - began
        for m in ms:
            layer_widths = widths("quadratic", m, depth, input_dim=16)
            sample_kernels(x, relu, layer_widths, draws=range(2), seed=1)  # compile
            began = time.perf_counter()
            k = sample_kernels(x, relu, layer_widths, draws=range(args.draws), seed=1)
            per_draw = (time.perf_counter() - began) / args.draws
            r = _op_rel(k, model.limit)
            rel_se = r.std(ddof=1) / r.mean() / np.sqrt(args.draws)
            need = int(np.ceil((r.std(ddof=1) / r.mean() / 0.01) ** 2))
            pred = unit / np.sqrt(m)
            row = {
                "depth": depth, "model_seconds": model_s, "base_width": m, "seconds_per_draw": per_draw,
                "measured_mean_op_rel": r.mean(), "measured_rel_se": rel_se, "predicted_mean_op_rel": pred,
                "ratio": r.mean() / pred, "draws_for_1pct": need, "seconds_for_1pct": need * per_draw,
            }  # fmt: skip
            rows.append(row)
            print(f"{depth:>3} {model_s:>8.1f} {m:>6} {per_draw:>8.4f} {r.mean():>9.4f} {rel_se:>7.3f} {pred:>9.4f} "
                  f"{r.mean() / pred:>6.3f} {need:>9} {need * per_draw:>8.1f}")  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, index=False)
    print(f"wrote {args.out} (load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
