"""Optimizers built on the public autograd API (filled in by the optim issue)."""
