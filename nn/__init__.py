"""Models built on the public autograd API: modules, layers, losses, data and checkpoints.

    import nn
    model = nn.Sequential(nn.Dense(64, 128, activation="relu"), nn.Dense(128, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)
"""

# ruff: noqa: E402  (the check below runs before this package's modules use autograd)
import importlib.metadata

import autograd as ag

if not hasattr(ag, "Tensor"):       # HIPS autograd ('pip install autograd') replaced chainrule's
    raise ImportError(
        "the `autograd` package found is not chainrule's: HIPS autograd (PyPI project 'autograd') "
        "uses the same package name and was installed over it. Fix: `pip uninstall -y autograd "
        "chainrule`, then reinstall chainrule; to use both, install them in separate virtual "
        "environments.")
try:
    __version__ = importlib.metadata.version("chainrule")
except importlib.metadata.PackageNotFoundError:     # a checkout that is not installed
    __version__ = "0+unknown"

from . import data, datasets, functional, init, utils
from .containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .dropout import Dropout, Flatten
from .embedding import Embedding
from .layers import Dense, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import LoadResult, Module, Parameter
from .monitor import Monitor as Monitor  # re-exported: nn.Monitor (docs/monitor.md)
from .normalization import BatchNorm1d, LayerNorm
from .onnx_export import export_onnx
from .serialization import CheckpointError, load, save
from .torch_compat import load_torch_state_dict, torch_state_dict

__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
    "ParameterDict", "LoadResult",
    "Dense", "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "Softmax",
    "Embedding", "BatchNorm1d", "LayerNorm", "Dropout", "Flatten",
    "MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss",
    "save", "load", "CheckpointError", "export_onnx", "torch_state_dict", "load_torch_state_dict",
    "functional", "init", "data", "utils", "datasets",
]
