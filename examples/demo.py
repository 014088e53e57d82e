"""chainrule's main demonstration: train, check and look at a digit classifier.

    python examples/demo.py            # full run (a few seconds to ~20 s on 2 cores)
    python examples/demo.py --quick    # a smaller, faster run (used by the tests)

1. Train a Dense network (64-128-64-10, ReLU) on the 8x8 digits shipped with chainrule:
   a seeded, stratified 75/25 split, standardized inputs, mini-batches of 32, SGD with momentum.
2. Print the test accuracy.
3. Check the gradient of the model's loss against central finite differences (in float64).
4. Draw the model's graph coloured by gradient norm (SVG) and the loss curve (PNG).
5. If onnx and onnxruntime are installed, export the model to ONNX and print ONNX Runtime's
   test accuracy next to chainrule's (`pip install onnx onnxruntime`; skipped otherwise).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

import graphviz
import numpy as np
from matplotlib.figure import Figure  # Figure objects, not pyplot: drawn by Agg, never displayed
from tqdm import tqdm

import autograd as ag
import nn
import optim

SEED = 2


def parse_args(argv: list[str] | None, name: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast run of a few seconds")
    parser.add_argument("--out", default=f"out/{name}", help="folder for the figures (default: %(default)s)")
    return parser.parse_args(argv)


def split(y: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a seeded, stratified train/test split: each digit keeps its share in both."""
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), bool)
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        test[members[:round(test_fraction * len(members))]] = True
    return np.flatnonzero(~test), np.flatnonzero(test)


def make_model(sizes: list[int]) -> nn.Sequential:
    """Dense layers with ReLU between them (He init by default) and raw logits at the end."""
    layers = [nn.Dense(a, b, activation="relu") for a, b in zip(sizes[:-2], sizes[1:-1])]
    return nn.Sequential(*layers, nn.Dense(sizes[-2], sizes[-1]))


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray) -> float:  # noqa: N803
    with ag.no_grad():                       # evaluation: no graph is recorded
        return float((model(X).numpy().argmax(axis=1) == y).mean())


def train(model: nn.Module, X: np.ndarray, y: np.ndarray, epochs: int, lr: float) -> list[float]:  # noqa: N803
    """Mini-batch SGD with momentum; returns the mean training loss of every epoch."""
    loss_fn = nn.CrossEntropyLoss()
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-3)
    mon = nn.Monitor(model, opt, every=10)   # per-layer health every 10th step (docs/monitor.md)
    loader = nn.data.DataLoader(X, y, batch_size=32, shuffle=True, rng=SEED)
    history = []
    bar = tqdm(range(epochs), desc="training", unit="epoch")
    for _ in bar:
        total = 0.0
        for xb, yb in loader:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)    # forward: records the graph
            loss.backward()                  # backward: fills p.grad for every parameter
            opt.step()                       # p -= lr * (momentum-averaged grad)
            total += loss.item() * len(yb)
        history.append(total / len(y))
        bar.set_postfix(loss=f"{history[-1]:.4f}")
    print(mon.report())                      # dead units, vanishing or exploding gradients, ...
    return history


def check_gradients(model: nn.Module, X: np.ndarray, y: np.ndarray) -> dict:  # noqa: N803
    """Gradcheck the model's loss as a function of float64 copies of its weights.

    Finite differences in float32 are too coarse (rounding error ~1e-7 / eps), so the weights
    and the batch are copied to float64 and the same forward is written as a function of them.
    """
    names = [name for name, _ in model.named_parameters()]
    weights = [ag.tensor(p.numpy().astype(np.float64), requires_grad=True, name=name)
               for name, p in model.named_parameters()]
    xb = ag.tensor(X.astype(np.float64))

    def loss_of(*ws: ag.Tensor) -> ag.Tensor:
        h = xb
        n_layers = len(ws) // 2
        for i in range(n_layers):            # the model's forward: affine, then ReLU but last
            h = ag.affine(h, ws[2 * i], ws[2 * i + 1])
            if i < n_layers - 1:
                h = ag.relu(h)
        return nn.functional.cross_entropy(h, y)

    # The function is the model's loss: same value as the float32 model, up to float32 rounding.
    with ag.no_grad():
        model_loss = nn.functional.cross_entropy(model(X), y).item()
        assert abs(loss_of(*weights).item() - model_loss) < 1e-4 * max(1.0, model_loss)

    # 1) the library's check: every one of the weights, against central differences
    ok = ag.gradcheck(loss_of, weights, eps=1e-6, atol=1e-7, rtol=1e-4, raise_exception=False)

    # 2) the same comparison by hand, to report the worst relative error
    analytical = ag.grad(loss_of(*weights), weights)
    worst_rel, worst_abs, worst_name = 0.0, 0.0, ""
    eps = 1e-6
    with ag.no_grad():
        for name, w, g in zip(names, weights, analytical):
            flat = w.data.reshape(-1)        # a view: we nudge one weight at a time
            num = np.empty(flat.size)
            for k in range(flat.size):
                old = flat[k]
                flat[k] = old + eps
                up = loss_of(*weights).item()
                flat[k] = old - eps
                down = loss_of(*weights).item()
                flat[k] = old
                num[k] = (up - down) / (2 * eps)
            ana = g.numpy().reshape(-1)
            err = np.abs(ana - num)
            scale = np.maximum(np.abs(ana), np.abs(num))
            big = scale > 1e-5               # relative error is meaningless for ~0 gradients
            rel = float((err[big] / scale[big]).max()) if big.any() else 0.0
            worst_abs = max(worst_abs, float(err.max()))
            if rel > worst_rel:
                worst_rel, worst_name = rel, name
    n_weights = sum(w.size for w in weights)
    return {"gradcheck": ok, "worst_rel_error": worst_rel, "worst_abs_error": worst_abs,
            "worst_param": worst_name, "n_checked": n_weights}


def run_in_onnxruntime(model: nn.Module, X_test: np.ndarray, y_test: np.ndarray,  # noqa: N803
                       path: Path) -> dict:
    """Export the model to ONNX and classify the test set with ONNX Runtime (if installed)."""
    if not all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime")):
        print("ONNX export skipped: pip install onnx onnxruntime to run the model in ONNX Runtime")
        return {}
    import onnxruntime
    nn.export_onnx(model, X_test[:32], path)     # traced in eval mode, dynamic batch axis
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"input": X_test.astype(np.float32)})[0]
    with ag.no_grad():
        ours = model(X_test).numpy()
    same = int((logits.argmax(axis=1) == ours.argmax(axis=1)).sum())
    acc = float((logits.argmax(axis=1) == y_test).mean())
    diff = float(np.abs(logits - ours).max())
    print(f"ONNX Runtime ({path}): test accuracy {acc:.2%} (chainrule "
          f"{float((ours.argmax(axis=1) == y_test).mean()):.2%}); the same prediction for {same} "
          f"of {len(y_test)} test images; largest logit difference {diff:.1e}")
    return {"onnx_test_accuracy": acc, "onnx_same_predictions": same, "onnx_images": len(y_test),
            "onnx_max_abs_diff": diff, "onnx_path": str(path)}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv, "demo")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    ag.manual_seed(SEED)                     # weights and shuffling are reproducible

    # -- data: 1797 digits, 64 pixels each, a 75/25 split, z-scored with the training statistics
    X, y = nn.datasets.load_digits()
    train_idx, test_idx = split(y, 0.25, SEED)
    scaler = nn.data.Standardizer()
    X_train = scaler.fit_transform(X[train_idx])
    X_test = scaler.transform(X[test_idx])
    y_train, y_test = y[train_idx], y[test_idx]
    print(f"digits: {len(y_train)} training and {len(y_test)} test images of {X.shape[1]} pixels")

    # -- model and training
    sizes = [64, 32, 16, 10] if args.quick else [64, 128, 64, 10]
    epochs = 5 if args.quick else 30
    model = make_model(sizes)
    print(model)
    history = train(model, X_train, y_train, epochs, lr=0.02)
    train_time = time.perf_counter() - start
    train_acc, test_acc = accuracy(model, X_train, y_train), accuracy(model, X_test, y_test)
    print(f"after {epochs} epochs ({train_time:.1f} s): final loss {history[-1]:.4f}, "
          f"train accuracy {train_acc:.2%}, test accuracy {test_acc:.2%}")

    # -- the same model in ONNX Runtime (optional: needs onnx and onnxruntime)
    onnx_result = run_in_onnxruntime(model, X_test, y_test, out / "digits.onnx")

    # -- gradient check on a small batch
    n_check = 4 if args.quick else 8
    t = time.perf_counter()
    check = check_gradients(model, X_train[:n_check], y_train[:n_check])
    print(f"gradcheck of the loss on {n_check} images, {check['n_checked']} weights in float64: "
          f"{'passed' if check['gradcheck'] else 'FAILED'}; worst relative error "
          f"{check['worst_rel_error']:.2e} (in {check['worst_param']}), worst absolute error "
          f"{check['worst_abs_error']:.2e} ({time.perf_counter() - t:.1f} s)")

    # -- the graph of one batch's loss, coloured by the norm of the gradient at every node
    with ag.record_values():                 # keep value statistics and the input batch's node
        loss = nn.CrossEntropyLoss()(model(X_train[:32]), y_train[:32])
    with ag.record_grad_norms():             # store each node's gradient norm during backward
        loss.backward()
    drawing = ag.draw_graph(loss, params=model)      # a graphviz.Digraph (shows inline in Jupyter)
    graph_path: str | None = None
    try:
        graph_path = drawing.render(out / "graph", format="svg", cleanup=True)
        print(f"graph with gradient colours: {graph_path}")
    except graphviz.ExecutableNotFound as e:     # no `dot` program: say how to get it, go on
        (out / "graph.dot").write_text(drawing.source)   # the DOT text needs no Graphviz
        print(f"graph not rendered: {e}\nits DOT source: {out / 'graph.dot'}")

    # -- the loss curve
    fig = Figure(figsize=(5, 3.2), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.plot(range(1, epochs + 1), history, marker="o", ms=3)
    ax.set(yscale="log", xlabel="epoch", ylabel="training loss (cross-entropy)",
           title=f"digits, {'-'.join(map(str, sizes))} ReLU: test accuracy {test_acc:.1%}")
    ax.grid(alpha=0.3)
    fig.savefig(out / "loss.png")
    print(f"loss curve: {out / 'loss.png'}")
    wall = time.perf_counter() - start
    print(f"figures in {out}/ ; total {wall:.1f} s")
    return {"test_accuracy": test_acc, "train_accuracy": train_acc, "final_loss": history[-1],
            "losses": history, **check, "graph": graph_path, "loss_png": str(out / "loss.png"),
            "seconds": wall, **onnx_result}


if __name__ == "__main__":
    main()
