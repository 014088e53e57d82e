"""`mon.plot()`: the panels a practitioner reads, as one matplotlib Figure (drawn by Agg)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ._stats import sample_slice

__all__ = ["plot", "PANELS"]

PANELS = ("gradient norm per layer", "update:data ratio (log10)", "dead and saturated units",
          "activation std per layer", "activations at the last step", "output gradients at the last step")


def _short(label: str) -> str:
    return label.replace("layer ", "", 1)


def plot(mon: Any) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("mon.plot() needs matplotlib: pip install matplotlib") from None
    steps = np.asarray(mon.steps)
    fig = Figure(figsize=(15, 8.5), dpi=100, layout="constrained")
    ax = fig.subplots(2, 3).ravel()
    for a, title in zip(ax, PANELS):
        a.set_title(title)
        a.grid(alpha=0.3)
    n = len(mon._mods)
    colours: dict[str, Any]
    if n <= 10:
        colours = {st.name: f"C{i}" for i, st in enumerate(mon._mods)}
    else:                                   # many layers: shallow to deep, dark to light
        import matplotlib
        cmap = matplotlib.colormaps["viridis"]
        colours = {st.name: cmap(i / (n - 1) * 0.9) for i, st in enumerate(mon._mods)}
    grad, upd = mon.series("grad_norm"), mon.series("update_ratio")
    avg, std = mon.series("update_ratio_avg"), mon.series("act_std")
    dead, sat = mon.series("dead"), mon.series("saturated")
    for st in mon._mods:
        c, lab = colours[st.name], _short(st.label)
        if np.isfinite(grad[st.name]).any():
            ax[0].plot(steps, grad[st.name], color=c, label=lab, lw=1)
        if np.isfinite(upd[st.name]).any():
            ax[1].plot(steps, upd[st.name], color=c, alpha=0.3, lw=0.8)
            ax[1].plot(steps, avg[st.name], color=c, label=lab, lw=1.2)
        if np.isfinite(dead[st.name]).any():
            ax[2].plot(steps, dead[st.name], color=c, label=f"{lab}: dead", lw=1.2)
        if np.isfinite(sat[st.name]).any():
            ax[2].plot(steps, sat[st.name], color=c, ls="--", label=f"{lab}: saturated", lw=1.2)
        if np.isfinite(std[st.name]).any():
            ax[3].plot(steps, std[st.name], color=c, label=lab, lw=1)
    for a, attr in ((ax[4], "act_sample"), (ax[5], "grad_sample")):
        _histograms(a, mon, attr, colours)
    th = mon.thresholds
    ax[0].set(yscale="log", xlabel="step", ylabel="L2 norm of the parameters' gradient")
    shown = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in grad.values()] + [np.zeros(0)])
    if shown.size:       # a gradient that (nearly) vanishes shows as a drop to the bottom edge
        ax[0].set_ylim(bottom=max(shown.min(), shown.max() * 1e-10) / 2)
    ax[1].axhline(-3, color="k", ls=":", lw=1, label="1e-3 (healthy)")
    ax[1].axhline(th["update_high"], color="r", ls=":", lw=1, label="too high")
    ax[1].set(xlabel="step", ylabel="log10 std(update) / std(weight)")
    ax[2].axhline(th["dead"], color="r", ls=":", lw=1)
    ax[2].set(xlabel="step", ylabel="share of units", ylim=(-0.03, 1.03))
    ax[3].set(xlabel="step", ylabel="std of the layer's output")
    last = steps[-1] if steps.size else 0
    ax[4].set(xlabel="value", ylabel="density", yscale="log", title=f"{PANELS[4]} ({last})")
    ax[5].set(xlabel="dL/d(output)", ylabel="density", yscale="log", title=f"{PANELS[5]} ({last})")
    _mark_problems(mon, ax)
    ax[0].legend(fontsize=7, loc="best", ncol=1 if n <= 12 else 2)    # one colour per layer throughout
    ax[1].legend(handles=ax[1].get_legend_handles_labels()[0][-2:], fontsize=7, loc="best")
    from matplotlib.lines import Line2D
    ax[2].legend(handles=[Line2D([], [], color="k", label="dead (ReLU)"),
                          Line2D([], [], color="k", ls="--", label="saturated (tanh, sigmoid)"),
                          Line2D([], [], color="r", ls=":", label="dead threshold")],
                 fontsize=7, loc="best")
    n = sum(d.active for d in mon.diagnoses())
    fig.suptitle(f"training health of {type(mon.model).__name__}: "
                 f"{'no problems' if not n else f'{n} problem(s), see mon.report()'}")
    return fig


def _mark_problems(mon: Any, ax: Any) -> None:
    """A red x where each problem began, on the panel that shows it."""
    panel = {"exploding": 0, "vanishing": 0, "update_high": 1, "update_low": 1, "dead": 2,
             "saturated": 2, "nonfinite": 0}
    keys = {"exploding": "grad_norm", "vanishing": "grad_norm", "nonfinite": "grad_norm",
            "update_high": "update_ratio_avg", "update_low": "update_ratio_avg", "dead": "dead",
            "saturated": "saturated"}
    steps = np.asarray(mon.steps)
    for d in mon.diagnoses():
        values = mon.series(keys[d.kind])[d.module]
        i = int(np.clip(np.searchsorted(steps, d.onset), 0, len(steps) - 1))
        y = values[i]
        if np.isfinite(y):
            ax[panel[d.kind]].plot([steps[i]], [y], "x", color="red", ms=9, mew=2)


def _histograms(a: Any, mon: Any, attr: str, colours: dict) -> None:
    """One step-histogram per layer on shared bins (the middle 99% of all layers' values)."""
    samples = {st.name: getattr(st, attr) for st in mon._mods}
    samples = {k: v.reshape(-1)[sample_slice(v.shape, 4096)] for k, v in samples.items()
               if v is not None and v.size}
    samples = {k: v[np.isfinite(v)] for k, v in samples.items()}
    samples = {k: v for k, v in samples.items() if v.size}
    if not samples:
        a.text(0.5, 0.5, "nothing recorded", ha="center", transform=a.transAxes)
        return
    pooled = np.concatenate(list(samples.values()))
    lo, hi = np.percentile(pooled, [0.5, 99.5])
    if not hi > lo:
        lo, hi = lo - 0.5, hi + 0.5
    bins = np.linspace(lo, hi, 61)
    for name, v in samples.items():
        a.hist(np.clip(v, lo, hi), bins=bins, histtype="step", color=colours[name], density=True)
