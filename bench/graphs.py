"""Deep and wide graphs, and the cost of in-place write protection.

    python bench/graphs.py                  # everything (about a minute)
    python bench/graphs.py --part deep      # only the deep and wide graphs (and draw_graph)
    python bench/graphs.py --part protection
    python bench/graphs.py --case deep-1m   # one graph case, in this process

1. a 1,000,000-node chain: forward and backward time, peak traced memory, memory left after;
2. one tensor feeding 100,000 operations: the same numbers;
3. the write protection (arrays saved for backward made read-only, version checks): the time
   of a training step with it and with locking switched off, measured in one run.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import autograd as ag  # noqa: E402
import nn  # noqa: E402
import optim  # noqa: E402
from autograd import protection as write_protection  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(build, label: str) -> None:
    """Times without tracing; memory as resident set size (peak from getrusage)."""
    gc.collect()
    base = rss_mb()
    t0 = time.perf_counter()
    root, leaf = build()
    t1 = time.perf_counter()
    graph_mb = rss_mb() - base
    root.backward()
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    grad = leaf.grad.item()
    del root
    gc.collect()
    left_mb = rss_mb() - base
    print(f"  {label:<38} forward {t1 - t0:5.2f} s  backward {t2 - t1:5.2f} s  graph {graph_mb:6.1f} MB"
          f"  peak {peak_mb:6.1f} MB  left after {left_mb:5.1f} MB  grad {grad:.6g}")


def deep_chain(n: int):
    def build():
        x = ag.tensor(np.ones(1), requires_grad=True)
        y = x
        for _ in range(n):
            y = y * 1.0000001
        return y.sum(), x
    return build


def wide_fan_out(n: int):
    def build():
        x = ag.tensor(np.ones(1), requires_grad=True)
        total = ag.zeros(1, dtype=np.float64)
        for i in range(n):
            total = total + x * float(i % 7)
        return total.sum(), x
    return build


def protection_cost(batch: int, repeats: int = 300) -> tuple[float, float]:
    """Median W1 step time with locking and with locking switched off, the two taking turns
    step by step (so drifts in the machine's speed hit both alike)."""
    rng = np.random.default_rng(0)
    x = ag.tensor(rng.standard_normal((batch, 784)).astype(np.float32))
    y = rng.integers(0, 10, batch)

    def trainer():
        ag.manual_seed(0)
        model = nn.Sequential(nn.Dense(784, 256, "relu"), nn.Dense(256, 256, "relu"), nn.Dense(256, 10))
        opt = optim.SGD(model.parameters(), lr=0.01)

        def step() -> None:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        return step

    steps = {True: trainer(), False: trainer()}
    original = write_protection.lock_array
    times: dict = {True: [], False: []}
    try:
        for i in range(repeats + 20):
            for locking, step in steps.items():
                write_protection.lock_array = original if locking else (lambda arr: ())
                t0 = time.perf_counter()
                step()
                if i >= 20:
                    times[locking].append(time.perf_counter() - t0)
    finally:
        write_protection.lock_array = original
    return statistics.median(times[True]), statistics.median(times[False])


CASES = {
    "deep-100k": (deep_chain(100_000), "chain of 100,000 multiplications"),
    "deep-1m": (deep_chain(1_000_000), "chain of 1,000,000 multiplications"),
    "wide-100k": (wide_fan_out(100_000), "one tensor feeding 100,000 operations"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Deep and wide graphs (time and memory), and the cost of the write protection.")
    parser.add_argument("--part", choices=("all", "deep", "protection"), default="all",
                        help="deep: the graph cases and draw_graph; protection: the W1 step with "
                             "and without locking (default: %(default)s)")
    parser.add_argument("--case", choices=sorted(CASES),
                        help="measure one graph case in this process and stop (the benchmark runs "
                             "each case this way, in a fresh process)")
    return parser.parse_args(argv)


def graphs() -> None:
    """Each graph case in a fresh process, then draw_graph's DOT text of a long chain."""
    print("Deep and wide graphs (float64, shape (1,)), each in a fresh process; memory is RSS")
    for case in CASES:
        subprocess.run([sys.executable, __file__, "--case", case], check=True)
    x = ag.tensor(np.ones(4), requires_grad=True)
    h = x
    for i in range(10_000):
        h = ag.tanh(h) if i % 2 else h * 1.0001
    loss = h.sum()
    with ag.record_grad_norms():
        loss.backward()
    t0 = time.perf_counter()
    source = ag.draw_graph(loss).source
    print(f"\ndraw_graph of a 10,000-operation chain with gradient norms: DOT text in "
          f"{time.perf_counter() - t0:.3f} s ({source.count(' -> ')} edges)")


def protection() -> None:
    """The W1 step with and without locking, and the cost of reading `.data`."""
    print("\nWrite protection: W1 step (MLP 784-256-256-10) with and without locking saved arrays")
    for batch in (32, 256):
        a, b = protection_cost(batch)
        print(f"  batch {batch:4d}: with {a * 1e6:8.1f} us, without {b * 1e6:8.1f} us, "
              f"cost {(a - b) * 1e6:+6.1f} us per step ({(a / b - 1) * 100:+.1f}%)")
    x = ag.tensor(np.ones(8, np.float32), requires_grad=True)
    y = x * 2.0
    z = y * y
    n = 200_000
    for what, t in (("a saved leaf", x), ("an operation's output (one flags check)", y)):
        t0 = time.perf_counter()
        for _ in range(n):
            _ = t.data
        print(f"  reading .data of {what}: {(time.perf_counter() - t0) / n * 1e9:.0f} ns")
    del z


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.case:
        measure(*CASES[args.case])
        return
    if args.part in ("all", "deep"):
        graphs()
    if args.part in ("all", "protection"):
        protection()


if __name__ == "__main__":
    main()
