"""The drawing's model of a graph: which nodes, their names, and the module each sits in.

`GraphModel` walks the graph once (a loop, never recursion) and places every node on its
cluster path (the scopes it was recorded in; a named parameter goes to its owning module).
`draw_graph` (DOT) and `explore` (HTML) both draw from it.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..node import LeafNode, Node, leaf_node
from ..tensor import Tensor
from .stats import _stats


def _as_roots(root: Any) -> tuple:
    if isinstance(root, Tensor):
        return (root,)
    if isinstance(root, (list, tuple)) and root and all(isinstance(t, Tensor) for t in root):
        return tuple(root)
    raise TypeError(f"root must be a Tensor or a tuple of Tensors, got {type(root).__name__}")


class _Names:
    """Parameter and module names from `params` (a Module or a {name: Tensor} dict)."""

    def __init__(self, params: Any) -> None:
        self.param: dict = {}       # id(tensor) -> dotted name
        self.module: dict = {}      # id(module) -> dotted name
        self.module_by_name: dict = {}
        self._keep: list = []       # keep named objects alive so ids stay unique
        if params is None:
            return
        if hasattr(params, "named_parameters"):
            items: Iterable = params.named_parameters()
        elif isinstance(params, Mapping):
            items = params.items()
        else:
            raise TypeError(f"params must be a Module (with named_parameters()) or a dict "
                            f"{{name: Tensor}}, got {type(params).__name__}")
        for name, t in items:
            if not isinstance(t, Tensor):
                raise TypeError(f"params[{name!r}] is a {type(t).__name__}, not a Tensor: draw_graph "
                                f"names the leaf tensors of the graph")
            self.param.setdefault(id(t), str(name))
            self._keep.append(t)
        if hasattr(params, "named_modules"):
            for name, m in params.named_modules():
                self.module.setdefault(id(m), str(name))
                self.module_by_name.setdefault(str(name), m)
                self._keep.append(m)

    def leaf(self, node: LeafNode) -> str | None:
        t = node.tensor()
        if t is None:                       # not held any more: the name the node kept
            return node.meta.get("name") if node.meta else None
        return self.param.get(id(t)) or t.name or None

    def scope_label(self, label: Any) -> str:
        if isinstance(label, str):
            return label
        cls = type(label).__name__
        name = self.module.get(id(label))
        if name:
            return f"{name} ({cls})"
        return cls

    def owner(self, node: LeafNode) -> Any:
        """The module owning a named parameter ('a.b.weight' -> module 'a.b'), or None."""
        t = node.tensor()
        name = None if t is None else self.param.get(id(t))
        if not name:
            return None
        prefix = name.rsplit(".", 1)[0] if "." in name else ""
        return self.module_by_name.get(prefix)


def _key(label: Any) -> Any:
    return ("s", label) if isinstance(label, str) else id(label)


def _walk(roots: Iterable[Node]) -> list:
    """All nodes reachable from `roots`, depth first, parents in order (a loop)."""
    order: list = []
    seen: set = set()
    stack = list(reversed(list(roots)))
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        order.append(node)
        for p in reversed(node.parents):
            if p is not None and p not in seen:
                stack.append(p)
    return order



class GraphModel:
    """One walk of the graph behind `roots`, with what every drawing needs.

    `nodes` (depth first from the roots), `ident` (stable ids n0, n1, ...), `consumers` (the
    nodes each one feeds, in walk order), `root_tensor` (output node -> its Tensor), `path_of`
    (node -> cluster path, a tuple of scope keys) and `path_label` (path -> its scope label: a
    Module or a string).
    """

    def __init__(self, root: Any, params: Any = None) -> None:
        self.names = _Names(params)
        self.root_nodes: list = []
        self.root_tensor: dict = {}
        for t in _as_roots(root):
            node = t._node
            if node is None:
                node = leaf_node(t) if t.requires_grad else LeafNode(t)
            self.root_nodes.append(node)
            self.root_tensor.setdefault(node, t)
        self.nodes = _walk(self.root_nodes)
        self.ident = {node: f"n{i}" for i, node in enumerate(self.nodes)}
        self.consumers: dict = {}
        for node in self.nodes:
            for p in node.parents:
                if p is not None:
                    self.consumers.setdefault(p, []).append(node)
        self.path_of, self.path_label = self._place()

    def _place(self) -> tuple:
        """Cluster path of every node: op scopes; named parameters go to their owning module."""
        module_path: dict = {}              # id(module) -> first scope path ending with it
        path_label: dict = {}               # path -> label object
        path_of: dict = {}
        for node in self.nodes:
            if type(node) is LeafNode or not node.scope:
                continue
            keys = tuple(_key(lab) for lab in node.scope)
            path_of[node] = keys
            for i, lab in enumerate(node.scope):
                p = keys[:i + 1]
                if p not in path_label:
                    path_label[p] = lab
                    module_path.setdefault(id(lab), p)
        for node in self.nodes:
            if type(node) is LeafNode:
                owner = self.names.owner(node)
                if owner is not None and id(owner) in module_path:
                    path_of[node] = module_path[id(owner)]
        return path_of, path_label

    def default_depth(self) -> int:
        """The depth `collapse_modules=True` means: one level below a common root module, else
        the top-level scopes."""
        firsts = {keys[0] for keys in self.path_of.values()}
        deep = any(len(keys) >= 2 for keys in self.path_of.values())
        return 1 if len(firsts) == 1 and deep else 0

    def outputs(self, members: list) -> list:
        """The members that are outputs or feed a node outside `members`."""
        inside = set(members)
        return [x for x in members if x in self.root_tensor
                or any(c not in inside for c in self.consumers.get(x, ()))]

    def tree(self) -> dict:
        """{cluster path: (child paths, in order of first use), every node under it}."""
        under: dict = {}
        children: dict = {(): []}
        for node in reversed(self.nodes):           # roughly forward order
            keys = self.path_of.get(node, ())
            for i in range(1, len(keys) + 1):
                p = keys[:i]
                if p not in under:
                    under[p] = []
                    children.setdefault(p, [])
                    children[p[:-1]].append(p)
                under[p].append(node)
        first = {p: min(n.seq for n in ns) for p, ns in under.items()}
        return {p: (sorted(kids, key=first.__getitem__), under.get(p, []))
                for p, kids in children.items()}

    def runs(self, tree: dict | None = None) -> list:
        """Runs of two or more sibling modules used one after another that have the same class
        and structure (operations, shapes, parameters): the blocks `roll_up` draws as one."""
        from .views import describe_module
        tree = self.tree() if tree is None else tree

        memo: dict = {}

        def signature(p: tuple) -> tuple:
            if p in memo:
                return memo[p]
            ops, leaves = [], []
            for n in sorted(tree[p][1], key=lambda n: n.seq):
                if type(n) is LeafNode:
                    leaves.append(tuple(n.shape))
                    continue
                k = self.path_of[n]
                inner = tuple(type(self.path_label[k[:j + 1]]).__name__ for j in range(len(p), len(k)))
                ops.append((inner, n.name, tuple(n.shape)))
            memo[p] = describe_module(self.path_label[p]), tuple(ops), tuple(sorted(leaves))
            return memo[p]
        out = []
        for kids, _ in tree.values():
            run: list = []
            for p in kids + [None]:
                if run and p is not None and signature(p) == signature(run[0]):
                    run.append(p)
                    continue
                if len(run) >= 2:
                    out.append(run)
                run = [p] if p is not None else []
        return out

    def collapse(self, depth: int | None, runs: list | tuple = ()) -> tuple:
        """Nodes deeper than `depth` replaced by one group per scope path `[:depth + 1]`; the
        modules of each run in `runs` (see `runs()`) by one group for the run, keyed
        `parent + (("run", first member),)`.

        Returns (group_of: node -> group path, path_of: a copy where a parameter whose owner
        was collapsed but which is also used outside it sits beside the group)."""
        path_of = dict(self.path_of)
        group_of: dict = {}
        if depth is not None:
            for node, keys in path_of.items():
                if type(node) is not LeafNode and len(keys) > depth:
                    group_of[node] = keys[:depth + 1]
        run_of: dict = {}                   # member path -> run key
        for run in sorted(runs, key=lambda r: len(r[0])):
            parent = run[0][:-1]
            if (depth is not None and len(parent) > depth) or any(
                    parent[:i] in run_of for i in range(1, len(parent) + 1)):
                continue                    # inside a collapsed module or an outer run
            for p in run:
                run_of[p] = parent + (("run", run[0]),)
        if run_of:
            for node, keys in path_of.items():
                for i in range(1, len(keys) + 1):
                    if keys[:i] in run_of:
                        if type(node) is not LeafNode:
                            group_of[node] = run_of[keys[:i]]
                        else:
                            path_of[node] = keys[:i - 1]
                        break
        for node in self.nodes:             # leaves used only inside one group disappear into it
            if type(node) is LeafNode and node not in self.root_tensor:
                gs = {group_of.get(c) for c in self.consumers.get(node, ())}
                if len(gs) == 1 and None not in gs:
                    group_of[node] = gs.pop()
                elif depth is not None and len(path_of.get(node, ())) > depth:
                    path_of[node] = path_of[node][:depth]   # owner collapsed: sit beside it
        return group_of, path_of


def _grad_stats(node: Node, tensor: Tensor | None) -> dict | None:
    if type(node) is LeafNode:
        t = node.tensor() if tensor is None else tensor
        if t is not None and t.grad is not None:
            return _stats(t.grad._data)
    return node.meta.get("grad") if node.meta else None


def _value_stats(node: Node, tensor: Tensor | None) -> dict | None:
    if tensor is None and type(node) is LeafNode:
        tensor = node.tensor()
    if tensor is not None:
        return _stats(tensor._data, keep_small=True, exact=True)
    if node.ans is not None:
        return _stats(node.ans, keep_small=True, exact=True)
    return node.meta.get("value") if node.meta else None
