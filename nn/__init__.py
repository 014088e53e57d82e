"""Models built on the public autograd API: modules, layers, losses, data and checkpoints.

    import nn
    model = nn.Sequential(nn.Dense(64, 128, activation="relu"), nn.Dense(128, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)
"""

from . import data, datasets, functional, init, utils
from .layers import Dense, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import LoadResult, Module, ModuleList, Parameter, Sequential
from .monitor import Monitor as Monitor  # re-exported: nn.Monitor (docs/monitor.md)
from .serialization import load, save

__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "LoadResult",
    "Dense", "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "Softmax",
    "MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss",
    "save", "load",
    "functional", "init", "data", "utils", "datasets",
]
