"""End to end: a Sequential of Dense layers learns the digits to > 97% test accuracy."""


import numpy as np

import autograd as ag
import nn


def stratified_split(y, test_fraction, rng):
    test = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:round(test_fraction * np.sum(y == c))]
                           for c in np.unique(y)])
    mask = np.zeros(len(y), bool)
    mask[test] = True
    return ~mask, mask


def test_mlp_learns_digits_above_97_percent():
    X, y = nn.datasets.load_digits()
    train, test = stratified_split(y, 0.25, np.random.default_rng(2))
    assert test.sum() == 450 and train.sum() == 1347
    scaler = nn.data.Standardizer()
    X_train = scaler.fit_transform(X[train])
    X_test = scaler.transform(X[test])

    model = nn.Sequential(nn.Dense(64, 128, activation="relu", rng=0), nn.Dense(128, 10, rng=1))
    loss_fn = nn.CrossEntropyLoss()
    loader = nn.data.DataLoader(X_train, y[train], batch_size=32, rng=2)
    params = list(model.parameters())
    velocity = [np.zeros_like(p.data) for p in params]
    lr, momentum, weight_decay = 0.02, 0.9, 1e-3

    def accuracy(inputs, labels):
        with ag.no_grad():
            return float((model(inputs).data.argmax(axis=1) == labels).mean())

    first_loss = None
    for _ in range(25):
        for xb, yb in loader:
            model.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            first_loss = first_loss if first_loss is not None else loss.item()
            with ag.no_grad():             # SGD with momentum and weight decay, by hand
                for p, v in zip(params, velocity):
                    v *= momentum
                    v += p.grad.data + weight_decay * p.data
                    p.data -= lr * v
    assert all(p.dtype == np.float32 for p in params)
    assert first_loss > 1.5                       # ~log(10) at the start
    assert accuracy(X_train, y[train]) > 0.99
    assert accuracy(X_test, y[test]) > 0.97
