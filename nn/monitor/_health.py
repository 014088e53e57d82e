"""Reading the monitor: `module_health` (numbers and status per module at one step) and
`report` (the problems in words, and a table of the last step)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._diagnose import FLAG, KINDS, sci, sentence

__all__ = ["module_health", "report"]


def _num(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def _onset(mon: Any, i: int, kind: str, r: int) -> int:
    """The first step of the run of `kind` at module i that includes row r: exact from the
    tracker when the run is the current one, else the earliest kept row of the run."""
    h = mon._history
    tr = mon._trackers[(i, kind)]
    step = int(h.steps[r])
    if tr.active and tr.onset <= step <= tr.last:
        return tr.onset
    col, bit = mon._mods[i].col + mon._M["flags"], FLAG[kind]
    flags = h.rows[:r + 1, col]
    start = r
    while start > 0 and not np.isnan(flags[start - 1]) and int(flags[start - 1]) & bit:
        start -= 1
    return int(h.steps[start])


def _problems(mon: Any, i: int, r: int, held: list[bool], values: list[list[float]],
              top: int) -> list[str]:
    st = mon._mods[i]
    latest = r == mon._history.n - 1
    out = []
    for k, kind in enumerate(KINDS):
        if held[k]:
            extra = mon._extra(kind, i, top)
            if kind == "nonfinite" and not latest:
                extra = "values or gradients"
            out.append(sentence(kind, st.label, values[i][k], _onset(mon, i, kind, r), None,
                                extra, window=int(mon.thresholds["dead_window"])))
    return out


def module_health(mon: Any, r: int) -> dict[str, dict]:
    row = mon._history.rows[r]
    M = mon._M
    health = {}
    _, values, top = mon._conditions(row)
    for i, st in enumerate(mon._mods):
        c = st.col
        flags = int(row[c + M["flags"]])
        held = [bool(flags & FLAG[k]) for k in KINDS]
        status = next((k for k in KINDS if flags & FLAG[k]), "ok")
        health[st.name] = {
            "label": st.label,
            "activation": st.act,
            "step": int(mon._history.steps[r]),
            "grad_norm": _num(row[c + M["grad_norm"]]),
            "weight_norm": _num(row[c + M["weight_norm"]]),
            "update_ratio": _num(row[c + M["update_ratio"]]),
            "update_ratio_avg": _num(row[c + M["update_ratio_avg"]]),
            "act_mean": _num(row[c + M["act_mean"]]),
            "act_std": _num(row[c + M["act_std"]]),
            "saturated": _num(row[c + M["saturated"]]),
            "dead": _num(row[c + M["dead"]]),
            "dead_batch": _num(row[c + M["dead_batch"]]),
            "out_grad_norm": _num(row[c + M["out_grad_norm"]]),
            "nonfinite": bool(row[c + M["nonfinite"]] == 1.0),
            "status": status,
            "problems": _problems(mon, i, r, held, values, top),
        }
    return health


def _cell(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:.0%}" if pct else sci(x)


def report(mon: Any) -> str:
    h = mon._history
    if h.n == 0:
        return "Monitor: no step recorded yet."
    last = int(h.steps[h.n - 1])
    lines = [f"Monitor of {type(mon.model).__name__}: {len(mon._mods)} layers, recorded steps 0 to {last} "
             f"(every {mon.every}; {h.count} recorded, {h.n} kept)"]
    found = mon.diagnoses()
    now = [d for d in found if d.active]
    before = [d for d in found if not d.active]
    if now:
        lines.append(f"problems at step {last}:")
        lines += [f"  {d.message}" for d in now]
    if before:
        lines.append("earlier problems (over by the last step):")
        lines += [f"  {d.message}" for d in before]
    if not found:
        lines.append("no problems found (thresholds: see mon.thresholds)")
    health = module_health(mon, h.n - 1)
    lines.append(f"at step {last}:")
    head = ("layer", "grad norm", "weight norm", "log10 upd:data", "act mean", "act std", "saturated",
            "dead", "status")
    rows = [head]
    for name, v in health.items():
        upd = v["update_ratio_avg"]
        rows.append((name or "model", _cell(v["grad_norm"]), _cell(v["weight_norm"]),
                     "-" if upd is None else f"{upd:.1f}", _cell(v["act_mean"]), _cell(v["act_std"]),
                     _cell(v["saturated"], True), _cell(v["dead"], True), v["status"]))
    widths = [max(len(r[k]) for r in rows) for k in range(len(head))]
    lines += ["  " + "  ".join(c.rjust(w) if k else c.ljust(w) for k, (c, w) in
                               enumerate(zip(r, widths))) for r in rows]
    return "\n".join(lines)
