"""A bounded table of per-step rows: full resolution until it is full, then every other row
is dropped and only every 2nd (4th, 8th, ...) step is kept, so any run fits in `capacity` rows
and still spans all its steps. The newest step is always kept."""

from __future__ import annotations

import numpy as np

__all__ = ["History"]


class History:
    """Rows of `ncols` float64 numbers, one per recorded step, at most `capacity` of them."""

    def __init__(self, ncols: int, capacity: int) -> None:
        if int(capacity) < 4:
            raise ValueError(f"history must keep at least 4 steps, got {capacity}")
        self.capacity = int(capacity)
        self.rows = np.full((self.capacity, ncols), np.nan)
        self.steps = np.zeros(self.capacity, np.int64)
        self.index = np.zeros(self.capacity, np.int64)   # the how-many-th recorded step each row is
        self.n = 0
        self.stride = 1           # rows kept: recorded steps whose index is a multiple of this
        self.pending = False      # the last row is off-stride: the next row replaces it
        self.count = 0            # steps recorded so far

    def add(self, step: int, row: np.ndarray | list[float]) -> None:
        k = self.count
        self.count += 1
        if not self.pending:
            if self.n == self.capacity:
                self._halve()
            self.n += 1
        i = self.n - 1
        self.rows[i] = row
        self.steps[i] = step
        self.index[i] = k
        self.pending = k % self.stride != 0

    def _halve(self) -> None:
        """Keep the rows on the doubled stride (about half), packed at the front."""
        self.stride *= 2
        keep = np.flatnonzero(self.index[:self.n] % self.stride == 0)
        m = len(keep)
        self.rows[:m] = self.rows[keep]
        self.steps[:m] = self.steps[keep]
        self.index[:m] = self.index[keep]
        self.rows[m:] = np.nan
        self.n = m

    def find(self, step: int) -> int:
        """The row of `step`; a KeyError if that step is not kept."""
        i = int(np.searchsorted(self.steps[:self.n], step))
        if i < self.n and self.steps[i] == step:
            return i
        raise KeyError(step)

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes + self.steps.nbytes + self.index.nbytes
