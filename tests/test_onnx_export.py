"""ONNX export: every mapped operation, the layers and the demo's digits model, each run by
ONNX Runtime and compared with chainrule at several batch sizes (float32 tolerance).

onnx and onnxruntime are in the `dev` extra, so in CI these tests run (never skip)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from conftest import Cube

import autograd as ag
import nn
from autograd.tensor import Observer

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

RNG = np.random.default_rng(0)
BATCHES = (1, 3, 8)


def _param(*shape: int) -> ag.Tensor:
    return ag.tensor(RNG.standard_normal(shape).astype(np.float32), requires_grad=True)


W5 = _param(5)
W53 = _param(5, 3)
B3 = _param(3)
MASK = np.array([True, False, True, True, False])

# name: (function of x of shape (batch, 4, 5), the operations it must record)
CASES = {
    "add": (lambda x: x + W5, {"add"}),
    "add_const": (lambda x: x + 2.5, {"add"}),
    "subtract": (lambda x: 1.5 - x, {"subtract"}),
    "multiply": (lambda x: x * W5, {"multiply"}),
    "divide": (lambda x: x / (ag.abs(W5) + 1.0), {"divide"}),
    "power": (lambda x: ag.abs(x) ** 1.5 + ag.power(2.0, x), {"power"}),
    "maximum": (lambda x: ag.maximum(x, W5), {"maximum"}),
    "minimum": (lambda x: ag.minimum(x, 0.25), {"minimum"}),
    "negative": (lambda x: -x, {"negative"}),
    "abs": (lambda x: ag.abs(x), {"abs"}),
    "exp": (lambda x: ag.exp(x), {"exp"}),
    "log": (lambda x: ag.log(ag.abs(x) + 0.5), {"log"}),
    "log10_log2": (lambda x: ag.log10(ag.abs(x) + 0.5) + ag.log2(ag.abs(x) + 0.5), {"log10", "log2"}),
    "sqrt": (lambda x: ag.sqrt(ag.abs(x)), {"sqrt"}),
    "sin": (lambda x: ag.sin(x), {"sin"}),
    "cos": (lambda x: ag.cos(x), {"cos"}),
    "tanh": (lambda x: ag.tanh(x), {"tanh"}),
    "sign": (lambda x: ag.sign(x) * x, {"sign", "multiply"}),
    "sigmoid": (lambda x: ag.sigmoid(x * 10.0), {"sigmoid"}),
    "relu": (lambda x: ag.relu(x), {"relu"}),
    "softplus": (lambda x: ag.softplus(x * 5.0), {"softplus"}),
    "leaky_relu": (lambda x: ag.leaky_relu(x, 0.2), {"leaky_relu"}),
    "clip": (lambda x: ag.clip(x, -0.5, 0.5) + ag.clip(x, a_min=W5), {"clip"}),
    "where": (lambda x: ag.where(MASK, x, -x), {"where"}),
    "astype": (lambda x: ag.astype(x, np.float64) * 2.0, {"astype"}),
    "sum": (lambda x: x.sum(axis=1) + x.sum(axis=(1, 2), keepdims=True)[:, 0], {"sum"}),
    "sum_all": (lambda x: x.sum() * W5, {"sum"}),
    "mean": (lambda x: x.mean(axis=-1), {"mean"}),
    "max": (lambda x: x.max(axis=1), {"max"}),
    "min": (lambda x: x.min(axis=2, keepdims=True), {"min"}),
    "logsumexp": (lambda x: ag.logsumexp(x * 20.0, axis=-1), {"logsumexp"}),
    "var": (lambda x: ag.var(x, axis=1) + ag.var(x, axis=(1, 2), ddof=1, keepdims=True)[:, 0],
            {"var"}),
    "std": (lambda x: ag.std(x, axis=1) + ag.std(x, axis=(1, 2), ddof=1, keepdims=True)[:, 0],
            {"std"}),
    "clone": (lambda x: x.clone() * 2.0, {"clone"}),
    "softmax": (lambda x: ag.softmax(x * 30.0, axis=1), {"softmax"}),
    "log_softmax": (lambda x: ag.log_softmax(x * 30.0), {"log_softmax"}),
    "softmax_axes": (lambda x: ag.softmax(x * 9.0, axis=(1, 2)) + ag.log_softmax(x, axis=(-2, -1)),
                     {"softmax", "log_softmax"}),
    "reshape": (lambda x: x.reshape(-1, 20), {"reshape"}),
    "expand_squeeze": (lambda x: ag.squeeze(ag.expand_dims(x, 1), 1), {"expand_dims", "squeeze"}),
    "flatten": (lambda x: ag.flatten(x), {"flatten"}),
    "transpose": (lambda x: ag.transpose(x, (0, 2, 1)), {"transpose"}),
    "swapaxes": (lambda x: ag.swapaxes(x, 1, 2), {"swapaxes"}),
    "broadcast_to": (lambda x: ag.broadcast_to(x[:, :1, :], x.shape), {"broadcast_to"}),
    "concatenate": (lambda x: ag.concatenate([x, x * 2.0], axis=1), {"concatenate"}),
    "stack": (lambda x: ag.stack([x, -x], axis=2), {"stack"}),
    "getitem_int": (lambda x: x[:, 1], {"getitem"}),
    "getitem_slices": (lambda x: x[:, ::-1, 1:4], {"getitem"}),
    "getitem_none": (lambda x: x[..., None, 2], {"getitem"}),
    "getitem_step": (lambda x: x[:, -1, ::2], {"getitem"}),
    "getitem_array": (lambda x: x[:, [0, 2, 2]], {"getitem"}),
    "getitem_mask": (lambda x: x[:, :, MASK], {"getitem"}),
    "matmul": (lambda x: x @ W53, {"matmul"}),
    "matmul_vector": (lambda x: x @ W5, {"matmul"}),
    "matmul_batched": (lambda x: x @ ag.swapaxes(x, 1, 2), {"matmul"}),
    "affine": (lambda x: ag.affine(x, W53, B3), {"affine"}),
    "affine_relu": (lambda x: ag.affine(x, W53, B3, activation="relu"), {"affine+relu"}),
    "affine_tanh": (lambda x: ag.affine(x, W53, activation="tanh"), {"affine+tanh"}),
    "affine_sigmoid": (lambda x: ag.affine(x, W53, B3, activation="sigmoid"), {"affine+sigmoid"}),
    "einsum": (lambda x: ag.einsum("bij,jk->bik", x, W53), {"einsum"}),
    "pytorch_spellings": (lambda x: ag.cat([x.permute(0, 2, 1).sum(dim=2, keepdim=True).unsqueeze(1)
                                            .view(-1, 5), x.mean(dim=(1,))], dim=1),
                          {"transpose", "sum", "concatenate"}),
}


def _recorded(fn, x) -> set:
    names: set = set()

    class Names(Observer):
        def recorded(self, node, out, inputs, attrs=None):
            names.add(node.name)
    with Names():
        fn(ag.tensor(x, requires_grad=True))
    return names


def _session(model) -> ort.InferenceSession:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _check(fn, sample, batches=BATCHES, atol=1e-5, rtol=1e-5):
    """Export fn traced on sample(2); ONNX Runtime agrees with chainrule on sample(n)."""
    if isinstance(fn, nn.Module):
        model = nn.export_onnx(fn, sample(2), None)
    else:
        model = ag.onnx.export(fn, sample(2))
    onnx.checker.check_model(model, full_check=True)
    session = _session(model)
    name = session.get_inputs()[0].name
    for n in batches:
        x = sample(n)
        got = session.run(None, {name: x})[0]
        with ag.no_grad():
            want = fn(ag.tensor(x)).numpy()
        assert got.shape == want.shape, (n, got.shape, want.shape)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=f"batch {n}")
    return model


def _x(n: int) -> np.ndarray:
    return RNG.standard_normal((n, 4, 5)).astype(np.float32)


@pytest.mark.parametrize("case", sorted(CASES))
def test_operation_matches_onnxruntime(case):
    fn, ops = CASES[case]
    assert ops <= _recorded(fn, _x(2)), f"{case} does not record {ops}"
    _check(fn, _x)


def test_every_mapped_operation_has_a_case():
    covered = set().union(*(ops for _, ops in CASES.values()))
    assert set(ag.onnx.supported_operations()) <= covered


def test_parameters_are_initializers_and_the_batch_is_dynamic():
    model = nn.Sequential(nn.Dense(5, 3, activation="relu"), nn.Dense(3, 2))
    proto = _check(model, lambda n: RNG.standard_normal((n, 5)).astype(np.float32))
    inits = {i.name: tuple(i.dims) for i in proto.graph.initializer}
    assert inits == {"0.weight": (5, 3), "0.bias": (3,), "1.weight": (3, 2), "1.bias": (2,)}
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["batch", 5]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["batch", 2]
    assert [n.op_type for n in proto.graph.node] == ["MatMul", "Add", "Relu", "MatMul", "Add"]


def test_static_batch_when_asked():
    model = nn.Sequential(nn.Dense(5, 2))
    proto = ag.onnx.export(model, np.zeros((4, 5), np.float32), dynamic_batch=False)
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [4, 5]


@pytest.mark.parametrize("activation", ["leaky_relu", "softmax", "sigmoid", "tanh", None])
def test_dense_activations(activation):
    model = nn.Sequential(nn.Dense(6, 4, activation=activation), nn.Dense(4, 3, activation="tanh"))
    _check(nn.Sequential(model), lambda n: RNG.standard_normal((n, 6)).astype(np.float32))


def test_layers_in_eval_mode(tmp_path):
    ag.manual_seed(1)
    model = nn.Sequential(nn.Dense(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5),
                          nn.LayerNorm(8), nn.Dense(8, 3), nn.Softmax())
    # running statistics that are not the initial ones, learnt in training mode
    for _ in range(3):
        model(RNG.standard_normal((16, 6)).astype(np.float32) * 3 + 1)
    model.train()
    path = tmp_path / "m.onnx"
    proto = nn.export_onnx(model, RNG.standard_normal((4, 6)).astype(np.float32), path)
    assert model.training and all(m.training for m in model.modules())    # its mode is restored
    assert path.stat().st_size > 0
    names = {i.name for i in proto.graph.initializer}
    assert {"1.running_mean", "1.running_var", "1.weight", "1.bias", "4.weight", "4.bias"} <= names
    assert [n.op_type for n in proto.graph.node] == [
        "MatMul", "Add", "BatchNormalization", "Relu", "LayerNormalization", "MatMul", "Add", "Softmax"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model.eval()
    for n in BATCHES:
        x = RNG.standard_normal((n, 6)).astype(np.float32)
        with ag.no_grad():
            want = model(x).numpy()
        np.testing.assert_allclose(session.run(None, {"input": x})[0], want, rtol=1e-5, atol=1e-6)


def test_batchnorm_3d_and_flatten():
    model = nn.Sequential(nn.BatchNorm1d(3), nn.Flatten(), nn.Dense(12, 2)).eval()
    model[0].running_mean.data = np.array([0.5, -1.0, 2.0], np.float32)
    model[0].running_var.data = np.array([2.0, 0.5, 1.5], np.float32)
    _check(model, lambda n: RNG.standard_normal((n, 3, 4)).astype(np.float32))


def test_embedding_takes_integer_indices():
    ag.manual_seed(2)
    emb = nn.Embedding(10, 4)

    class Bag(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb, self.out = emb, nn.Dense(4, 3)

        def forward(self, idx):
            return self.out(self.emb(idx).mean(axis=1))

    model = Bag()
    proto = _check(model, lambda n: RNG.integers(0, 10, (n, 7)))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert "emb.weight" in {i.name for i in proto.graph.initializer}


def test_frozen_embedding_exports():
    emb = nn.Embedding.from_pretrained(np.arange(12, dtype=np.float32).reshape(6, 2))
    _check(nn.Sequential(emb), lambda n: RNG.integers(0, 6, (n, 3)))
    assert not emb.weight.requires_grad


def test_several_inputs_and_outputs():
    def fn(a, b):
        return a * b, ag.softmax(a - b)
    proto = ag.onnx.export(fn, (np.ones((2, 3), np.float32), np.ones((2, 3), np.float32)),
                           output_names=["prod", "probs"])
    session = _session(proto)
    a, b = RNG.standard_normal((2, 5, 3)).astype(np.float32)
    got = session.run(None, {"input_0": a, "input_1": b})
    np.testing.assert_allclose(got[0], a * b, rtol=1e-6)
    np.testing.assert_allclose(got[1], ag.softmax(a - b).numpy(), rtol=1e-5)


class Weird(nn.Module):
    def forward(self, x):
        return ag.remainder(x, 2.0)


def test_an_unmapped_operation_is_named_with_its_module():
    model = nn.Sequential(nn.Dense(4, 4), nn.Sequential(nn.ReLU(), Weird()))
    with pytest.raises(ag.onnx.ExportError, match=r"'remainder' in module '1\.1' \(Weird\)"):
        nn.export_onnx(model, np.zeros((2, 4), np.float32), None)


def test_a_loss_has_no_mapping():
    model = nn.Sequential(nn.Dense(4, 3))
    labels = np.array([0, 2])
    with pytest.raises(ag.onnx.ExportError, match=r"'softmax_cross_entropy\[mean\]' outside any module"):
        ag.onnx.export(lambda x: nn.functional.cross_entropy(model(x), labels),
                       np.zeros((2, 4), np.float32))


def test_a_batch_dependent_constant_is_refused():
    with pytest.raises(ag.onnx.ExportError, match="depends on the batch size"):
        ag.onnx.export(lambda x: x + np.ones(x.shape, np.float32), np.zeros((2, 3), np.float32))
    proto = ag.onnx.export(lambda x: x + np.ones(x.shape, np.float32), np.zeros((2, 3), np.float32),
                           dynamic_batch=False)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2


def test_a_value_computed_outside_the_graph_is_refused():
    with pytest.raises(ag.onnx.ExportError, match="changes with the input's values"):
        ag.onnx.export(lambda x: x - x.data.mean(axis=0), RNG.standard_normal((2, 3)))


def _demo():
    path = Path(__file__).resolve().parent.parent / "examples" / "demo.py"
    spec = importlib.util.spec_from_file_location("example_demo_onnx", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_digits_model_same_logits_and_predictions(tmp_path):
    demo = _demo()
    ag.manual_seed(0)
    X, y = nn.datasets.load_digits()
    train_idx, test_idx = demo.split(y, 0.25, demo.SEED)
    scaler = nn.data.Standardizer()
    X_train, X_test = scaler.fit_transform(X[train_idx]), scaler.transform(X[test_idx])
    model = demo.make_model([64, 128, 64, 10])
    demo.train(model, X_train, y[train_idx], 2, lr=0.02)
    path = tmp_path / "digits.onnx"
    nn.export_onnx(model, X_train[:32], path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with ag.no_grad():
        want = model(X_test).numpy()
    for n in (1, 7, 32, len(X_test)):
        got = np.concatenate([session.run(None, {"input": X_test[i:i + n]})[0]
                              for i in range(0, len(X_test), n)])
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        assert (got.argmax(axis=1) == want.argmax(axis=1)).all()


def test_demo_runs_without_onnx(monkeypatch, tmp_path, capsys):
    """The README's first command installs only the examples extra: the demo skips ONNX then."""
    demo = _demo()
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("onnx", "onnxruntime") else real(name, *a))
    model = demo.make_model([64, 8, 10])
    X, y = nn.datasets.load_digits()
    assert demo.run_in_onnxruntime(model, X[:20], y[:20], tmp_path / "m.onnx") == {}
    assert "ONNX export skipped: pip install onnx onnxruntime" in capsys.readouterr().out
    assert not (tmp_path / "m.onnx").exists()


def test_bad_arguments_are_named():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="input_names gives 2 names"):
        ag.onnx.export(lambda v: v * 2.0, x, input_names=["a", "b"])
    with pytest.raises(ValueError, match="at least one example"):
        ag.onnx.export(lambda: None, ())
    with pytest.raises(ag.onnx.ExportError, match="output 0 does not depend on the inputs"):
        ag.onnx.export(lambda v: ag.tensor([1.0, 2.0]), x)
    with pytest.raises(TypeError, match="exports a Module"):
        nn.export_onnx(lambda v: v, x, None)


def test_a_float64_example_gives_a_float32_model_float32_inputs():
    model = nn.Sequential(nn.Dense(4, 3))
    proto = nn.export_onnx(model, RNG.standard_normal((2, 4)), None)         # float64 example
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_a_custom_function_is_named():
    class Block(nn.Module):
        def forward(self, x):
            return Cube.apply(x)

    model = nn.Sequential(nn.Dense(3, 3), Block())
    with pytest.raises(ag.onnx.ExportError, match=r"'Cube' in module '1' \(Block\): it has no ONNX"):
        nn.export_onnx(model, np.zeros((2, 3), np.float32), None)


def test_normalisation_layers_without_affine_parameters_and_op_by_op():
    ag.manual_seed(3)
    model = nn.Sequential(nn.Dense(5, 4), nn.BatchNorm1d(4, affine=False),
                          nn.LayerNorm(4, elementwise_affine=False), nn.LayerNorm(4, bias=False))
    for _ in range(2):
        model(RNG.standard_normal((8, 5)).astype(np.float32))
    proto = _check(model.eval(), lambda n: RNG.standard_normal((n, 5)).astype(np.float32))
    assert [n.op_type for n in proto.graph.node].count("LayerNormalization") == 2
    # batch statistics in eval (no running statistics): written operation by operation
    free = nn.Sequential(nn.Dense(5, 4), nn.BatchNorm1d(4, track_running_stats=False))
    proto = nn.export_onnx(free, RNG.standard_normal((6, 5)).astype(np.float32), None)
    assert "BatchNormalization" not in {n.op_type for n in proto.graph.node}
    session = _session(proto)
    x = RNG.standard_normal((7, 5)).astype(np.float32)
    with ag.no_grad():
        np.testing.assert_allclose(session.run(None, {"input": x})[0], free.eval()(x).numpy(),
                                   rtol=1e-5, atol=1e-5)


def test_a_normalisation_layer_whose_inner_value_is_used_outside_is_exported_op_by_op():
    ln = nn.LayerNorm(4)

    def fn(x):
        with ag.scope(ln):                      # as if its forward returned an inner value too
            centred = x - x.mean(axis=-1, keepdims=True)
            y = ln(centred)
        return y + centred
    proto = ag.onnx.export(fn, RNG.standard_normal((3, 4)).astype(np.float32))
    assert "LayerNormalization" not in {n.op_type for n in proto.graph.node}
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    with ag.no_grad():
        np.testing.assert_allclose(_session(proto).run(None, {"input": x})[0],
                                   fn(ag.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
