"""help() and inspect.signature show real signatures and docstrings for everything public."""

import inspect
import pydoc

import pytest

import autograd as ag


def public_functions():
    for module in (ag, ag.functional):
        for name in module.__all__:
            obj = getattr(module, name)
            if not inspect.ismodule(obj):
                yield f"{module.__name__}.{name}", obj


def tensor_attributes():
    for name in dir(ag.Tensor):
        if not name.startswith("_"):
            yield name, inspect.getattr_static(ag.Tensor, name)


def ids(value):
    return value if isinstance(value, str) else ""


def is_catch_all(sig):
    kinds = [p.kind for p in sig.parameters.values()]
    return kinds == [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD]


@pytest.mark.parametrize("label,obj", list(public_functions()), ids=ids)
def test_public_functions_have_signatures_and_docstrings(label, obj):
    assert (inspect.getdoc(obj) or "").strip(), f"{label} has no docstring"
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return
    sig = inspect.signature(obj)
    assert not is_catch_all(sig), f"{label} shows {sig}"
    wrapped = getattr(obj, "__wrapped__", None)
    if wrapped is not None:                # a PyTorch-keyword wrapper shows the real parameters
        assert list(inspect.signature(wrapped).parameters) == list(sig.parameters)[:len(
            inspect.signature(wrapped).parameters)]


@pytest.mark.parametrize("name,attr", list(tensor_attributes()), ids=ids)
def test_tensor_methods_and_properties_are_documented(name, attr):
    if isinstance(attr, property):
        assert (attr.__doc__ or "").strip(), f"Tensor.{name} property has no docstring"
        return
    if type(attr).__name__ == "member_descriptor":      # a slot: documented in __slots__
        assert ag.Tensor.__slots__[name].strip()
        return
    assert callable(attr), name
    assert (inspect.getdoc(attr) or "").strip(), f"Tensor.{name} has no docstring"
    sig = inspect.signature(attr)
    assert not is_catch_all(sig), f"Tensor.{name} shows {sig}"
    assert len(sig.parameters) >= 1                # self (or the function's first operand)


def test_help_of_var_shows_ddof_and_the_pytorch_difference():
    text = pydoc.render_doc(ag.Tensor.var, renderer=pydoc.plaintext)
    assert "ddof: 'int' = 0" in text or "ddof: int = 0" in text
    assert "correction" in text and "N - 1" in text
    bound = inspect.signature(ag.tensor([1.0, 2.0]).var)
    assert list(bound.parameters) == ["axis", "ddof", "keepdims", "dim", "keepdim", "correction"]


def test_help_of_a_method_shows_its_parameters():
    assert list(inspect.signature(ag.Tensor.leaky_relu).parameters) == ["x", "negative_slope"]
    assert "negative_slope" in pydoc.render_doc(ag.Tensor.leaky_relu, renderer=pydoc.plaintext)
    assert list(inspect.signature(ag.zeros).parameters) == ["shape", "sizes", "dtype", "requires_grad"]
    assert list(inspect.signature(ag.functional.hvp).parameters) == [
        "func", "inputs", "v", "create_graph", "strict"]
