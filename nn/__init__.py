"""Models built on the public autograd API (filled in by the nn issue)."""
