"""Writes the PyTorch-made test data of tests/test_safetensors.py (run from the repository root):

    python tests/data/make_torch_safetensors.py

Needs torch and safetensors (made with torch 2.13.0 CPU, safetensors 0.8.0); the tests read
the files with NumPy only, so CI needs no PyTorch.

- torch_net.safetensors: the state_dict of `Net` below (Embedding, Linear, BatchNorm1d with
  running statistics learnt in training, LayerNorm), as PyTorch names and lays it out;
- torch_mlp.safetensors: the state_dict of examples/demo.py's digits model in PyTorch,
  Sequential(Linear(64, 128), ReLU, Linear(128, 64), ReLU, Linear(64, 10)): its layers are
  0, 2, 4 where the demo's fused Dense layers are 0, 1, 2;
- torch_outputs.safetensors: inputs and the logits PyTorch computes from them in eval mode.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

HERE = Path(__file__).resolve().parent


class Net(torch.nn.Module):
    """Indices (N, L) -> mean of their embeddings -> Linear, BatchNorm1d, ReLU, LayerNorm, Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = torch.nn.Embedding(10, 6)
        self.body = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                                        torch.nn.LayerNorm(8), torch.nn.Linear(8, 3))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.body(self.emb(idx).mean(dim=1))


def main() -> None:
    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():                    # LayerNorm's affine parameters away from 1 and 0
        net.body[3].weight.uniform_(0.5, 1.5)
        net.body[3].bias.uniform_(-0.5, 0.5)
    net.train()
    for _ in range(5):                       # running statistics that are not the initial ones
        net(torch.randint(0, 10, (16, 5)))
    net.eval()
    idx = torch.randint(0, 10, (7, 5))
    mlp = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                              torch.nn.ReLU(), torch.nn.Linear(64, 10))
    x = torch.randn(9, 64)
    with torch.no_grad():
        outputs = {"net_input": idx, "net_logits": net(idx), "mlp_input": x, "mlp_logits": mlp(x)}
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, HERE / "torch_net.safetensors")
    save_file({k: v.contiguous() for k, v in mlp.state_dict().items()}, HERE / "torch_mlp.safetensors")
    save_file(outputs, HERE / "torch_outputs.safetensors")
    print("wrote", *(p.name for p in sorted(HERE.glob("torch_*.safetensors"))))


if __name__ == "__main__":
    main()
