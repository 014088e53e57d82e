"""chainrule's benchmark: each workload next to hand-written NumPy (and PyTorch when installed).

    python bench/run.py            # all workloads, a few minutes on 2 cores
    python bench/run.py --quick    # fewer repeats

Prints, per workload, the median time per step of each engine and its ratio to hand-written
NumPy measured in the same run, peak traced memory and minor page faults per step. BLAS runs
on one thread (pinned below, before NumPy is imported) and the thread count is printed.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import workloads  # noqa: E402  (bench/workloads.py: W5 and W6)

import autograd as ag  # noqa: E402
import nn  # noqa: E402
import optim  # noqa: E402

torch = None
if sys.argv[1:3] != ["--w3-child", "chainrule"]:
    # chainrule's W3 process leaves torch out: the garbage collector would walk torch's
    # 140,000 objects at each full collection during the graph build (0.36 s became 0.68 s)
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None

LR = 0.01
W2_GOAL, W2_TORCH_ISSUE = 0.40, 4.75e-6     # W2: <= 0.40x PyTorch's us/op (issue #20 measured 4.75)
W3_GOAL, W3_MEMORY_GOAL = 0.30, 40 * 2**20  # W3: build + backward <= 0.30x PyTorch's, <= 40 MB


# ---------------------------------------------------------------- measuring

def timed_together(steps: dict, repeats: int, warmup: int = 3) -> dict:
    """Median seconds per call of each step, the steps taking turns (so drifts in the machine's
    speed affect all of them alike)."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    times: dict = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            t0 = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def faults_per_step(step: Callable[[], object], n: int = 10) -> float:
    step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / n


def peak_bytes(step: Callable[[], object]) -> int:
    """Peak memory traced during one call, above what was allocated before it."""
    step()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


# ---------------------------------------------------------------- MLP workloads

def mlp_data(sizes: list[int], batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    weights = [(rng.standard_normal((i, o)) * np.sqrt(2 / i)).astype(np.float32)
               for i, o in zip(sizes[:-1], sizes[1:])]
    return x, y, weights


def numpy_mlp(sizes: list[int], batch: int) -> Callable[[], float]:
    """Hand-written forward, backward and SGD step: the limit for an engine built on NumPy."""
    x, y, weights = mlp_data(sizes, batch)
    W = [w.copy() for w in weights]
    b = [np.zeros(w.shape[1], np.float32) for w in W]
    rows = np.arange(batch)

    def step() -> float:
        acts = [x]
        for i in range(len(W)):
            z = acts[-1] @ W[i]
            z += b[i]
            if i < len(W) - 1:
                np.maximum(z, 0, out=z)
            acts.append(z)
        z = acts[-1]
        m = z.max(axis=1, keepdims=True)
        e = np.exp(z - m)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) + m[:, 0] - z[rows, y]))
        e /= s
        e[rows, y] -= 1
        e /= batch
        d = e
        for i in range(len(W) - 1, -1, -1):
            dW = acts[i].T @ d
            db = d.sum(axis=0)
            if i > 0:
                d = d @ W[i].T
                d *= acts[i] > 0
            W[i] -= LR * dW
            b[i] -= LR * db
        return loss
    return step


def chainrule_mlp(sizes: list[int], batch: int) -> Callable[[], float]:
    """The same step with the library's idiomatic API."""
    return chainrule_mlp_model(sizes, batch)[2]


def chainrule_mlp_model(sizes: list[int], batch: int) -> tuple:
    """(model, optimizer, step) of `chainrule_mlp` (bench/monitor.py attaches a monitor)."""
    x, y, weights = mlp_data(sizes, batch)
    layers = []
    for i, w in enumerate(weights):
        layer = nn.Dense(w.shape[0], w.shape[1], activation="relu" if i < len(weights) - 1 else None)
        layer.weight.data = w.copy()
        layers.append(layer)
    model = nn.Sequential(*layers)
    opt = optim.SGD(model.parameters(), lr=LR)
    xt = ag.tensor(x)

    def step() -> float:
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xt), y)
        loss.backward()
        opt.step()
        return loss.item()
    return model, opt, step


def torch_mlp(sizes: list[int], batch: int) -> Callable[[], float]:
    x, y, weights = mlp_data(sizes, batch)
    layers = []
    for i, w in enumerate(weights):
        lin = torch.nn.Linear(w.shape[0], w.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.T.copy()))
            lin.bias.zero_()
        layers.append(lin)
        if i < len(weights) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> float:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def check_same_losses(sizes: list[int], batch: int) -> float:
    """The engines compute the same thing: largest loss difference over 5 steps."""
    a, b = numpy_mlp(sizes, batch), chainrule_mlp(sizes, batch)
    return max(abs(a() - b()) for _ in range(5))


# ---------------------------------------------------------------- chains

def chain_ops(x, n: int, lib):
    """n elementwise operations: multiply, sin, add, tanh, repeated."""
    y = x
    for _ in range(n // 4):
        y = lib.sin(y * 1.001)
        y = lib.tanh(y + 0.5)
    return y


def numpy_chain(n: int, shape: tuple) -> Callable[[], None]:
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)

    def step() -> None:
        saved = []
        y = x
        for _ in range(n // 4):
            a = y * 1.001
            t = np.tanh(np.sin(a) + 0.5)
            saved.append((a, t))
            y = t
        g = np.ones_like(y)
        for a, t in reversed(saved):
            g = g * (1 - t * t)
            g = g * np.cos(a)
            g = g * 1.001
    return step


def chainrule_chain(n: int, shape: tuple) -> Callable[[], None]:
    x = ag.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32), requires_grad=True)

    def step() -> None:
        chain_ops(x, n, ag).sum().backward()
    return step


def torch_chain(n: int, shape: tuple) -> Callable[[], None]:
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    x.requires_grad_(True)

    def step() -> None:
        chain_ops(x, n, torch).sum().backward()
    return step


def chain_split(n: int, repeats: int) -> tuple[float, float]:
    """Median seconds per op of W2's forward and of its backward, for chainrule."""
    x = ag.tensor(np.random.default_rng(0).standard_normal(8).astype(np.float32), requires_grad=True)
    fwd, bwd = [], []
    for i in range(repeats + 3):
        t0 = time.perf_counter()
        y = chain_ops(x, n, ag).sum()
        t1 = time.perf_counter()
        y.backward()
        t2 = time.perf_counter()
        if i >= 3:
            fwd.append((t1 - t0) / n)
            bwd.append((t2 - t1) / n)
    return statistics.median(fwd), statistics.median(bwd)


def chain_build_backward(n: int, lib: str, runs: int = 3) -> tuple[float, float]:
    """W3 as the issue states it: CPU seconds to build an n-op chain on shape (1,) and run its
    backward, and the growth of the resident set while doing so, each in a fresh process
    (medians over `runs` processes)."""
    secs, peaks = [], []
    for _ in range(runs):
        out = subprocess.run([sys.executable, __file__, "--w3-child", lib, str(n)], check=True,
                             capture_output=True, text=True).stdout.split()
        secs.append(float(out[0]))
        peaks.append(float(out[1]))
    return statistics.median(secs), statistics.median(peaks)


def _w3_child(lib: str, n: int) -> None:
    def status(field: str) -> float:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field))

    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                    # reset the peak resident set size to the current one
    base = status("VmRSS:")
    t0 = time.process_time()
    if lib == "chainrule":
        x = ag.tensor(np.ones(1, np.float32), requires_grad=True)
    else:
        x = torch.ones(1, requires_grad=True)
    y = x
    for _ in range(n):
        y = y * 1.0000001
    y.sum().backward()
    secs = time.process_time() - t0
    print(secs, status("VmHWM:") - base)


def fresh_faults(engine: str, sizes: list[int], batch: int) -> tuple[float, float]:
    """Minor page faults and CPU seconds per step over steps 3-6 of a fresh process (the
    allocator has not settled there: memory mapped and unmapped each step shows up)."""
    out = subprocess.run([sys.executable, __file__, "--fresh-child", engine, str(batch),
                          ",".join(map(str, sizes))], check=True, capture_output=True, text=True)
    faults, secs = out.stdout.split()
    return float(faults), float(secs)


def _fresh_child(engine: str, batch: int, sizes: list[int]) -> None:
    make = {"numpy": numpy_mlp, "chainrule": chainrule_mlp, "torch": torch_mlp}[engine]
    step = make(sizes, batch)
    step()
    step()
    before, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time()
    for _ in range(4):
        step()
    print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 4,
          (time.process_time() - t0) / 4)


# ---------------------------------------------------------------- report

def row(name: str, cols: list) -> None:
    print(f"  {name:<28}" + "".join(f"{c:>14}" for c in cols))


def bench_mlp(label: str, sizes: list[int], batch: int, repeats: int, goal: float) -> dict:
    print(f"\n{label}: MLP {'-'.join(map(str, sizes))}, ReLU, softmax cross-entropy, SGD step, "
          f"batch {batch}   (goal <= {goal:.2f}x NumPy)")
    engines = {"numpy (hand-written)": numpy_mlp, "chainrule": chainrule_mlp}
    if torch is not None:
        engines["pytorch eager"] = torch_mlp
    row("engine", ["time/step", "x NumPy", "peak MB*", "faults/step"])
    steps = {name: make(sizes, batch) for name, make in engines.items()}
    results = timed_together(steps, repeats)
    base = results["numpy (hand-written)"]
    for name, step in steps.items():
        traced = "n/a" if name == "pytorch eager" else f"{peak_bytes(step) / 2**20:.1f}"
        row(name, [f"{results[name] * 1e6:9.0f} us", f"{results[name] / base:.2f}x",
                   traced, f"{faults_per_step(step):.0f}"])
    print(f"  same losses as NumPy within {check_same_losses(sizes, batch):.1e}   "
          f"(*peak memory traced by tracemalloc during one step; PyTorch's allocator is not traced)")
    return {k: v / results["numpy (hand-written)"] for k, v in results.items()}


def bench_pair(label: str, title: str, batch: int, repeats: int, goal: float, makers: dict,
               check: Callable[[dict], str]) -> dict:
    """A workload given as {engine: make(batch)}: time per step, ratio, peak memory, faults."""
    print(f"\n{label}: {title}, batch {batch}   (goal <= {goal:.2f}x NumPy)")
    row("engine", ["time/step", "x NumPy", "peak MB*", "faults/step"])
    steps = {name: make(batch) for name, make in makers.items()}
    results = timed_together(steps, repeats)
    base = results["numpy (hand-written)"]
    for name, step in steps.items():
        traced = "n/a" if name == "pytorch eager" else f"{peak_bytes(step) / 2**20:.1f}"
        row(name, [f"{results[name] * 1e6:9.0f} us", f"{results[name] / base:.2f}x",
                   traced, f"{faults_per_step(step):.0f}"])
    print(f"  {check(steps)}")
    return {k: v / base for k, v in results.items()}


def bench_w5(batch: int, repeats: int, goal: float) -> dict:
    makers = {"numpy (hand-written)": workloads.numpy_makemore, "chainrule": workloads.chainrule_makemore}
    if torch is not None:
        makers["pytorch eager"] = lambda b: workloads.torch_makemore(torch, b)

    def check(_: dict) -> str:
        a, b = workloads.numpy_makemore(batch), workloads.chainrule_makemore(batch)
        return f"same losses as NumPy within {max(abs(a() - b()) for _ in range(5)):.1e}"
    return bench_pair("W5", "makemore MLP (C[X], tanh 200, cross-entropy, SGD on 5 tensors)",
                      batch, repeats, goal, makers, check)


def bench_w6(batch: int, repeats: int, goal: float) -> dict:
    makers = {"numpy (hand-written)": workloads.numpy_hvp, "chainrule": workloads.chainrule_hvp}
    if torch is not None:
        makers["pytorch eager"] = lambda b: workloads.torch_hvp(torch, b)

    def check(steps: dict) -> str:
        ref, ours = steps["numpy (hand-written)"](), steps["chainrule"]()
        err = max(float(np.abs(r - o.data).max() / np.abs(r).max()) for r, o in zip(ref, ours))
        return f"H v as the R-operator by hand within {err:.1e} (relative to its largest entry)"
    return bench_pair("W6", "Hessian-vector product of W1's loss with tanh (hand-written: R-operator)",
                      batch, repeats, goal, makers, check)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--w3-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--fresh-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fresh_child:
        engine, batch, sizes = args.fresh_child
        _fresh_child(engine, int(batch), [int(n) for n in sizes.split(",")])
        return
    if args.w3_child:
        _w3_child(args.w3_child[0], int(args.w3_child[1]))
        return
    reps = 10 if args.quick else 40

    print(f"chainrule benchmark | Python {platform.python_version()} | NumPy {np.__version__} | "
          f"{'PyTorch ' + torch.__version__ if torch else 'PyTorch not installed'} | "
          f"{os.cpu_count()} cores, BLAS threads {os.environ['OPENBLAS_NUM_THREADS']} | "
          f"{platform.machine()} | float32")

    summary = {}
    summary["W1 b32"] = bench_mlp("W1", [784, 256, 256, 10], 32, reps * 5, 1.12)
    summary["W1 b256"] = bench_mlp("W1", [784, 256, 256, 10], 256, reps * 2, 1.15)
    summary["W5 b32"] = bench_w5(32, reps * 10, 1.7)
    summary["W5 b256"] = bench_w5(256, reps * 5, 1.25)
    summary["W6 b32"] = bench_w6(32, reps * 5, 1.6)
    summary["W4 b1024"] = bench_mlp("W4", [784, 1024, 1024, 10], 1024, max(reps // 2, 5), 1.03)
    print("  in a fresh process (steps 3-6; goal < 10 faults/step):")
    for engine in ["numpy", "chainrule"] + (["torch"] if torch is not None else []):
        faults, secs = fresh_faults(engine, [784, 1024, 1024, 10], 1024)
        row(engine, [f"{secs * 1e3:9.0f} ms cpu", "", "", f"{faults:.0f}"])

    n = 1000
    print(f"\nW2: chain of {n} elementwise ops on shape (8,), forward + backward, per op "
          f"(goal <= {W2_GOAL:.2f}x PyTorch's)")
    row("engine", ["us/op", "x NumPy", "x PyTorch"])
    engines = {"numpy (hand-written)": numpy_chain, "chainrule": chainrule_chain}
    if torch is not None:
        engines["pytorch eager"] = torch_chain
    w2 = {k: v / n for k, v in timed_together({k: m(n, (8,)) for k, m in engines.items()}, reps).items()}
    torch_w2 = w2.get("pytorch eager", W2_TORCH_ISSUE)
    for name in engines:
        row(name, [f"{w2[name] * 1e6:.2f}", f"{w2[name] / w2['numpy (hand-written)']:.2f}x",
                   f"{w2[name] / torch_w2:.2f}x"])
    fwd, bwd = chain_split(n, reps)
    print(f"  chainrule: forward {fwd * 1e6:.2f} + backward {bwd * 1e6:.2f} us/op (medians, timed apart)")
    if torch is None:
        print(f"  (PyTorch not installed: the ratio is to the issue's {W2_TORCH_ISSUE * 1e6:.2f} us/op)")
    summary["W2"] = {"chainrule": w2["chainrule"] / torch_w2}

    print(f"\nW3: chain of n multiplications on shape (1,), graph build + backward in a fresh process "
          f"(goal at 100,000: <= {W3_GOAL:.2f}x PyTorch's, <= {W3_MEMORY_GOAL / 2**20:.0f} MB); "
          f"CPU time, memory: growth of the resident set; medians of 3 processes")
    row("engine, n", ["build+bwd s", "x PyTorch", "peak MB"])
    libs = ["chainrule"] + (["pytorch eager"] if torch is not None else [])
    w3 = {}
    for lib in libs:
        for size in (100_000, 1_000_000) if lib == "chainrule" else (100_000,):
            w3[(lib, size)] = chain_build_backward(size, "chainrule" if lib == "chainrule" else "torch",
                                                   runs=3 if size == 100_000 else 1)
    torch_w3 = w3.get(("pytorch eager", 100_000), (None, None))[0]
    for (lib, size), (secs, peak) in w3.items():
        ratio = f"{secs / torch_w3:.2f}x" if torch_w3 and size == 100_000 else ""
        row(f"{lib}, {size:,}", [f"{secs:.3f}", ratio, f"{peak / 2**20:.1f}"])
    s1, m1 = w3[("chainrule", 100_000)]
    s2, m2 = w3[("chainrule", 1_000_000)]
    print(f"  1,000,000 vs 100,000: time x{s2 / s1:.1f}, memory x{m2 / m1:.1f} (linear = x10)")
    if torch_w3:
        summary["W3"] = {"chainrule": s1 / torch_w3}

    print("\nsummary (ratio to hand-written NumPy; W2 and W3: to PyTorch eager; lower is better)")
    for key, ratios in summary.items():
        print(f"  {key:<10} " + "  ".join(f"{k}: {v:.2f}x" for k, v in ratios.items()
                                          if k != "numpy (hand-written)"))
    print(f"  W2 chainrule {w2['chainrule'] * 1e6:.2f} us/op; W3 chainrule {s1:.3f} s, "
          f"{m1 / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
