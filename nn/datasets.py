"""Small datasets shipped with chainrule (no download)."""

from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = ["load_digits"]


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The UCI hand-written digits: 1797 images of 8x8 pixels with values 0..16.

    Returns `X` float32 of shape (1797, 64) (pixel rows flattened) and `y` int64 of shape
    (1797,) with the digit 0..9. Source and licence: `nn/_data/README.md`.
    """
    with resources.files(__package__).joinpath("_data").joinpath("digits.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as archive:
            X = archive["X"].astype(np.float32)  # noqa: N806 - as in the API
            y = archive["y"].astype(np.int64)
    return X, y
