"""The cost of nn.Monitor on the W1 training step, and its memory over a long run.

    python bench/monitor.py            # ~1 min
    python bench/monitor.py --quick    # fewer repeats, 20,000 steps for the memory part

W1 is bench/run.py's step: MLP 784-256-256-10, ReLU, cross-entropy, SGD, batch 32, one BLAS
thread. Three models with the same weights take turns step by step (so a drift in the
machine's speed affects them alike): no monitor, a monitor recording every step, and one
recording every 10th step. Goals: <= 10% and <= 2% over the plain step. Then a small model
trains for 100,000 steps (20,000 with --quick) with a monitor recording every step, and the
memory traced by tracemalloc is printed as the run goes: it must stay flat.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import autograd as ag  # noqa: E402
import nn  # noqa: E402
import optim  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import mlp_data  # noqa: E402

SIZES, BATCH, LR = [784, 256, 256, 10], 32, 0.01


def w1_step(every: int | None) -> tuple[Callable[[], float], nn.Monitor | None]:
    """bench/run.py's chainrule W1 step, with a monitor recording every `every` steps (None: none)."""
    x, y, weights = mlp_data(SIZES, BATCH)
    layers = []
    for i, w in enumerate(weights):
        layer = nn.Dense(w.shape[0], w.shape[1], activation="relu" if i < len(weights) - 1 else None)
        layer.weight.data = w.copy()
        layers.append(layer)
    model = nn.Sequential(*layers)
    opt = optim.SGD(model.parameters(), lr=LR)
    mon = None if every is None else nn.Monitor(model, opt, every=every)
    xt = ag.tensor(x)

    def step() -> float:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt), y)
        loss.backward()
        opt.step()
        return loss.item()
    return step, mon


def overhead(repeats: int, rounds: int) -> dict[str, float]:
    """Median CPU time per step of each variant, taking turns; each variant runs `rounds` steps
    in a row per turn, so that every=10 covers its recorded and unrecorded steps alike. CPU time
    of this thread (not wall time), so that other processes competing for the cores do not count."""
    variants = {"no monitor": w1_step(None), "every step": w1_step(1), "every 10 steps": w1_step(10)}
    for step, _ in variants.values():
        for _ in range(3 * rounds):
            step()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for name, (step, _) in variants.items():
            t0 = time.thread_time()
            for _ in range(rounds):
                step()
            times[name].append((time.thread_time() - t0) / rounds)
    losses = {k: step() for k, (step, _) in variants.items()}
    assert len(set(losses.values())) == 1, losses          # the monitor changes no number
    return {k: statistics.median(t) for k, t in times.items()}


def memory(steps: int) -> list[tuple[int, float, int]]:
    """(step, traced MB, rows kept) through a long run with a monitor recording every step."""
    ag.manual_seed(0)
    model = nn.Sequential(nn.Dense(64, 32, activation="relu"), nn.Dense(32, 16, activation="tanh"),
                          nn.Dense(16, 10))
    opt = optim.SGD(model.parameters(), lr=0.01)
    mon = nn.Monitor(model, opt)
    X, y = nn.datasets.load_digits()
    X = nn.data.Standardizer().fit_transform(X).astype(np.float32)
    gc.collect()
    tracemalloc.start()
    out = []
    for s in range(steps):
        i = (s * 32) % (len(X) - 32)
        opt.zero_grad()
        nn.functional.cross_entropy(model(X[i:i + 32]), y[i:i + 32]).backward()
        opt.step()
        if s in (99, 999) or (s + 1) % (steps // 5) == 0:
            gc.collect()
            out.append((s + 1, tracemalloc.get_traced_memory()[0] / 2**20, len(mon.steps)))
    tracemalloc.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"nn.Monitor on W1 (MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, 1 BLAS thread), "
          f"variants taking turns, 10 steps per turn, median CPU time per step")
    t = overhead(20 if args.quick else 100, 10)
    base = t["no monitor"]
    goals = {"every step": 0.10, "every 10 steps": 0.02}
    for name, sec in t.items():
        extra = sec / base - 1
        goal = f"   (goal <= +{goals[name]:.0%}: {'met' if extra <= goals[name] else 'MISSED'})" \
            if name in goals else ""
        print(f"  {name:<16} {sec * 1e6:8.0f} us/step   {extra:+6.1%}{goal}")
    steps = 20_000 if args.quick else 100_000
    print(f"\nmemory over {steps:,} steps (64-32-16-10 on the digits, monitor recording every step, "
          f"history=1000): memory traced since the start")
    t0 = time.perf_counter()
    for s, mb, kept in memory(steps):
        print(f"  after {s:>7,} steps: {mb:6.2f} MB   ({kept} steps kept)")
    print(f"  ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
