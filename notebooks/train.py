"""A tiny, real "training" run for the experiment-sweep notebook.

It fits a linear model to synthetic data with plain-Python mini-batch gradient descent: CPU-bound,
no dependencies, a second or two per run. It prints its progress (one line per epoch) and writes
its result as JSON to `<out>/<name>.json`.

    python train.py --lr 0.05 --out results/            # exit 0: converged
    python train.py --lr 5 --out results/               # exit 2: the loss diverged
    python train.py --lr 0.05 --out results/ --crash-once   # exit 1 the first time (a "flaky" run)

Exit codes: 0 done, 1 simulated crash (`--crash-once`, first attempt only), 2 diverged.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import random
import sys
import time

FEATURES = 4
TRUE_WEIGHTS = (2.0, -1.0, 0.5, 3.0)
TRUE_BIAS = 0.7


def make_data(n: int, seed: int) -> list[tuple[list[float], float]]:
    """n points x ~ N(0, 1)^4, y = w.x + b + noise (the same data for every run of a sweep)."""
    rng = random.Random(seed)
    data = []
    for _ in range(n):
        x = [rng.gauss(0.0, 1.0) for _ in range(FEATURES)]
        y = sum(w * xi for w, xi in zip(TRUE_WEIGHTS, x)) + TRUE_BIAS + rng.gauss(0.0, 0.1)
        data.append((x, y))
    return data


def mse(weights: list[float], bias: float, data: list[tuple[list[float], float]]) -> float:
    total = 0.0
    for x, y in data:
        err = sum(w * xi for w, xi in zip(weights, x)) + bias - y
        total += err * err
    return total / len(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, required=True, help="learning rate")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--samples", type=int, default=20000, help="training points")
    parser.add_argument("--batch", type=int, default=50, help="points per gradient step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=pathlib.Path, required=True, help="directory for the JSON result")
    parser.add_argument("--name", default=None, help="result file name (default: lr=<lr>)")
    parser.add_argument("--crash-once", action="store_true",
                        help="exit 1 on the first attempt (a marker file remembers it), succeed after")
    args = parser.parse_args(argv)
    name = args.name or f"lr={args.lr:g}"
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    marker = args.out / f"{name}.crashed"
    if args.crash_once and not marker.exists():
        marker.touch()
        print(f"{name}: simulated crash on the first attempt", file=sys.stderr)
        return 1

    data = make_data(args.samples, args.seed)
    order = list(range(len(data)))
    rng = random.Random(args.seed + 1)
    weights, bias = [0.0] * FEATURES, 0.0
    losses = []
    print(f"{name}: {args.epochs} epochs on {len(data)} points, lr={args.lr:g}")
    for epoch in range(1, args.epochs + 1):
        rng.shuffle(order)
        for start in range(0, len(order), args.batch):  # one gradient step per mini-batch
            batch = order[start:start + args.batch]
            grad, grad_bias = [0.0] * FEATURES, 0.0
            for i in batch:
                x, y = data[i]
                err = sum(w * xi for w, xi in zip(weights, x)) + bias - y
                grad = [g + err * xi for g, xi in zip(grad, x)]
                grad_bias += err
            step = args.lr / len(batch)
            weights = [w - step * g for w, g in zip(weights, grad)]
            bias -= step * grad_bias
            if abs(bias) > 1e6:  # no point going on: the updates blow up
                break
        loss = mse(weights, bias, data)
        if not math.isfinite(loss) or loss > 1e6:
            print(f"epoch {epoch}/{args.epochs} loss diverged: lr={args.lr:g} is too large", file=sys.stderr)
            return 2
        losses.append(loss)
        print(f"epoch {epoch}/{args.epochs} loss {loss:.5f}")

    result = {
        "name": name,
        "lr": args.lr,
        "epochs": args.epochs,
        "final_loss": losses[-1],
        "losses": losses,
        "weights": weights,
        "bias": bias,
        "seconds": round(time.perf_counter() - started, 3),
    }
    path = args.out / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    tmp.replace(path)  # a reader never sees half a file
    print(f"done: final loss {losses[-1]:.5f}, result in {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
