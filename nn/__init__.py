"""Models built on the public autograd API: modules, layers, losses, data and checkpoints.

    import nn
    model = nn.Sequential(nn.Dense(64, 128, activation="relu"), nn.Dense(128, 10))
    loss = nn.CrossEntropyLoss()(model(x), y)
"""

from . import data, datasets, functional, init, utils
from .dropout import Dropout, Flatten
from .embedding import Embedding
from .layers import Dense, LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import LoadResult, Module, ModuleList, Parameter, Sequential
from .normalization import BatchNorm1d, LayerNorm
from .serialization import load, save

__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "LoadResult",
    "Dense", "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "Softmax",
    "Embedding", "BatchNorm1d", "LayerNorm", "Dropout", "Flatten",
    "MSELoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss",
    "save", "load",
    "functional", "init", "data", "utils", "datasets",
]
