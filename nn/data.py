"""Feature scaling and mini-batches."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

import autograd as ag

from . import _validate

__all__ = ["Standardizer", "DataLoader"]

_NOISE_EPS = 10     # feature spreads below this many eps of its magnitude count as rounding noise


def _as_data(x: Any) -> Any:
    """A Tensor or ndarray as is; anything else (nested lists, numbers) converted as by
    `ag.tensor`: Python floats become the default dtype, ints stay ints."""
    return x if isinstance(x, (ag.Tensor, np.ndarray)) else ag.tensor(x).data


class Standardizer:
    """Z-score each feature (column) with the mean and standard deviation of the data given to
    `fit`. A constant feature is only centred (its scale is 1), never divided by zero.

    A float feature counts as constant when its standard deviation is at most
    `10 * eps * max|x|` (eps of the data's dtype, max over the feature): spreads that small are
    rounding noise at the data's own precision, not signal. Integer features must be exactly
    constant. Accepts ndarrays, Tensors and (nested) lists, and returns a Tensor for a Tensor,
    else an ndarray; a float input keeps its dtype, Python floats and integers give the default
    float dtype. A Tensor is transformed with recorded operations, so gradients flow through.
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, X: Any) -> Standardizer:  # noqa: N803 - the API's name
        """Learn the per-feature mean and standard deviation of `X` (samples on axis 0)."""
        X = _as_data(X)  # noqa: N806
        # the statistics are constants of the transform: a Tensor's values, whether or not it
        # requires grad (np.asarray refuses one that does, to keep its gradient)
        arr = X.data if isinstance(X, ag.Tensor) else np.asarray(X)
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise ValueError(f"Standardizer.fit needs at least one sample, got shape {arr.shape}")
        eps = np.finfo(arr.dtype).eps if arr.dtype.kind == "f" else 0.0
        arr = arr.astype(np.float64)        # statistics in float64 for accuracy
        bad = ~np.isfinite(arr).all(axis=0)
        if np.any(bad):
            where = np.argwhere(bad)[:5].tolist()
            raise ValueError(f"Standardizer.fit: X holds NaN or infinite values in feature(s) "
                             f"{where if arr.ndim > 2 else [w[0] for w in where]}"
                             f"{' and more' if bad.sum() > 5 else ''}; remove or impute them first, "
                             f"or every transformed value becomes NaN")
        std = arr.std(axis=0)
        constant = np.all(arr == arr[:1], axis=0) | (std <= _NOISE_EPS * eps * np.abs(arr).max(axis=0))
        self.mean_ = arr.mean(axis=0)
        self.scale_ = np.where(constant, 1.0, std)
        return self

    def _check(self, X: Any, what: str) -> tuple[np.ndarray, np.ndarray, np.dtype]:  # noqa: N803
        if self.mean_ is None or self.scale_ is None:
            raise RuntimeError(f"Standardizer.{what} called before fit: call fit(X) or "
                               f"fit_transform(X) on the training data first")
        if tuple(X.shape[1:]) != self.mean_.shape:
            raise ValueError(f"Standardizer.{what}: fitted on samples of shape {self.mean_.shape}, "
                             f"got data of shape {X.shape}")
        dtype = X.dtype if X.dtype.kind == "f" else np.dtype(ag.get_default_dtype())
        return self.mean_.astype(dtype), self.scale_.astype(dtype), dtype

    def transform(self, X: Any) -> Any:  # noqa: N803 - the API's name
        """(X - mean) / std with the fitted statistics."""
        X = _as_data(X)  # noqa: N806
        mean, scale, dtype = self._check(X, "transform")
        if isinstance(X, ag.Tensor):
            x = X if X.dtype == dtype else ag.astype(X, dtype)
            return (x - mean) / scale
        return (X.astype(dtype, copy=False) - mean) / scale

    def fit_transform(self, X: Any) -> Any:  # noqa: N803 - the API's name
        """`fit(X)` then `transform(X)`."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: Any) -> Any:  # noqa: N803 - the API's name
        """X * std + mean: undoes `transform`."""
        X = _as_data(X)  # noqa: N806
        mean, scale, dtype = self._check(X, "inverse_transform")
        if isinstance(X, ag.Tensor):
            x = X if X.dtype == dtype else ag.astype(X, dtype)
            return x * scale + mean
        return X.astype(dtype, copy=False) * scale + mean


class DataLoader:
    """Mini-batches over arrays that share their first axis: `for xb, yb in DataLoader(X, y): ...`.

    Each batch is a tuple of Tensors, one per array, with the arrays' dtypes (integer labels stay
    integer; Python lists are converted as by `ag.tensor`, floats to the default dtype). With
    `shuffle`, every epoch draws a new order from `rng` (a Generator, an int seed (the same seed
    gives the same sequence of orders) or None for the global generator, read at each epoch so
    `ag.manual_seed` applies). `drop_last` skips a final short batch.
    """

    def __init__(self, *arrays: Any, batch_size: int = 32, shuffle: bool = True,
                 drop_last: bool = False, rng: Any = None) -> None:
        if not arrays:
            raise ValueError("DataLoader needs at least one array")
        if batch_size is None:
            raise TypeError("DataLoader: batch_size must be a positive integer, got None (to take "
                            "all samples in one batch, pass batch_size=len(X))")
        batch_size = _validate.size("DataLoader", "batch_size", batch_size)
        shuffle = _validate.flag("DataLoader", "shuffle", shuffle)
        drop_last = _validate.flag("DataLoader", "drop_last", drop_last)
        rng = _validate.rng("DataLoader", rng)
        self.arrays = []
        for i, a in enumerate(arrays):
            try:
                self.arrays.append(np.asarray(_as_data(a)))
            except TypeError as err:
                raise TypeError(f"DataLoader: array {i} is not array data ({err}); pass ndarrays, "
                                f"Tensors or nested lists of numbers") from None
        for i, a in enumerate(self.arrays):
            if a.ndim == 0:
                hint = (f" (batch_size and the other options are keywords: DataLoader(X, y, "
                        f"batch_size={arrays[i]!r}))") if isinstance(arrays[i], (int, np.integer)) else ""
                raise ValueError(f"DataLoader: array {i} is a scalar; every array needs one row per "
                                 f"sample{hint}")
        lengths = [len(a) for a in self.arrays]
        if len(set(lengths)) > 1:
            raise ValueError(f"DataLoader: the arrays have different lengths "
                             f"{', '.join(map(str, lengths))}; every array needs one row per sample")
        if lengths[0] == 0:
            raise ValueError("DataLoader: the arrays have no samples (length 0), so every epoch "
                             "would be empty")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = None if rng is None else ag.get_rng(rng)

    @property
    def num_samples(self) -> int:
        return len(self.arrays[0])

    def __len__(self) -> int:
        n, b = self.num_samples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[tuple[ag.Tensor, ...]]:
        n = self.num_samples
        order = ag.get_rng(self.rng).permutation(n) if self.shuffle else np.arange(n)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield tuple(ag.Tensor(a[idx]) for a in self.arrays)
