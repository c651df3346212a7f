"""The detection state as data (issue 12, item 3): msgpack with explicit type tags, read back
without running any code the payload could choose.

Encoding. A value is written as itself when msgpack has it (None, bool, int of 64 bits, float,
str, bytes); everything else is a *node*, a msgpack array ``[tag, ...]`` (a bare array is never
a value, so nodes and values cannot be confused):

* list, tuple, set, frozenset, deque (with its maxlen) and dict (keys of any type, order kept);
  a container whose items are all plain values, or all tuples of plain values, is written as
  one msgpack array or map, so the C packer and unpacker do that work instead of a Python call
  per item (most of the state);
* numpy arrays (dtype string, shape, raw bytes; numeric dtypes only, never ``object``) and
  numpy scalars;
* objects of a class of Credence's own packages (`OWN_PACKAGES`) or of `FOREIGN_CLASSES`,
  as a *shape* (class and attribute names, written once per class in a table) and the
  attribute values;
* scikit-learn's fitted trees (`sklearn.tree._tree.Tree`), as their node and value arrays;
* the settings, as a placeholder: never written, the reader's own are put in their place.

The payload is ``[state, scikit-learn release or None, class table, shape table]``.

Shared references. The state shares mutable objects (a cycle-detector deque is in both its
``_in`` and ``_out`` maps, the engine's store and feature model are bound to the anomaly
detector and the scorer, detectors are listed in ``Engine.detectors`` and its routes, ...), and
code mutates them through one path and reads them through the other. So every mutable
container, object and array is numbered when first written; a later occurrence is a reference
``[REF, n]``, and the reader gives back the very same object (cycles included: a container is
registered before its items are read). Immutable values (tuples, frozensets, strings, numbers)
are rebuilt by value, as equality is all that matters for them.

Reading runs no code of the payload's choice: classes come only from the shape table, which is
checked as a whole before any object is built (a class — never a function — defined at the top
of a module of `OWN_PACKAGES`, or one of `FOREIGN_CLASSES`); an instance is made with
``object.__new__`` and its attributes written into its ``__dict__`` or through its own slots'
descriptors, so no ``__init__``, ``__setstate__`` or property runs. Trees are the one
explicit constructor, `sklearn.tree._tree.Tree`, given arrays whose indices are checked first.
"""

from __future__ import annotations

import gc
import importlib
import math
import sys
import types
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain
from typing import Any

import msgpack
import numpy as np

from config.settings import Settings

__all__ = ["encode", "decode", "DecodeError", "OWN_PACKAGES", "FOREIGN_CLASSES"]

#: Credence's own packages: a snapshot may name any *class* defined at the top of one of their
#: modules (the engine's state is made of them)
OWN_PACKAGES: tuple[str, ...] = ("credence.", "detectors.", "streams.")
#: and these classes of other libraries (the anomaly detector's fitted Isolation Forest),
#: nothing else
FOREIGN_CLASSES: frozenset[str] = frozenset({
    "sklearn.ensemble._iforest:IsolationForest",
    "sklearn.tree._classes:ExtraTreeRegressor",
})

# Node tags
REF, LIST, TUPLE, SET, FROZENSET, DICT, DICTP, DEQUE = range(8)
NDARRAY, NPSCALAR, OBJ, SETTINGS, BIGINT, SURROGATES, TREE = range(8, 15)
# How a container's items are written: as they are (all plain values), as bare arrays (all
# tuples of plain values: most of the state's tuples), or one by one (values and nodes).
PLAIN, TUPLES, NODES = range(3)

#: numpy dtype kinds an array may have: booleans and numbers (no objects, strings, records)
_KINDS = frozenset("biufc")
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1  # msgpack's integers


class DecodeError(ValueError):
    """A payload this module did not write, or one naming what a snapshot may not hold."""


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _allowed(module: str, name: str) -> bool:
    """Whether a snapshot may name class ``module:name`` (the same rule on both sides)."""
    if f"{module}:{name}" in FOREIGN_CLASSES:
        return True
    return module.startswith(OWN_PACKAGES) and name.isidentifier()


def _slots(cls: type) -> dict[str, Any]:
    """The slot descriptors of ``cls`` and its bases, by name (the most derived wins)."""
    out: dict[str, Any] = {}
    for base in reversed(cls.__mro__):
        names = base.__dict__.get("__slots__", ())
        for n in (names,) if isinstance(names, str) else names:
            if n not in ("__dict__", "__weakref__"):
                out[n] = base.__dict__[n]
    return out


# --------------------------------------------------------------------------- encoding


_FAST = frozenset({type(None), bool, int, float, str, bytes})
_TUPLE = {tuple}
# When an int beyond 64 bits or a str with a lone surrogate made msgpack fail, encoding starts
# again with those two types checked one by one (never in practice: kept for correctness).
_CAREFUL = frozenset({type(None), bool, float, bytes})


class _Encoder:
    """Writes the state straight into a msgpack buffer (no tree of nodes in memory: the
    snapshot of a large engine would otherwise need several times its size while written)."""

    def __init__(self, careful: bool) -> None:
        self.plain = _CAREFUL if careful else _FAST
        self.out = msgpack.Packer(use_bin_type=True, autoreset=False)
        self.memo: dict[int, int] = {}  # id → number of the objects written
        self.keep: list[Any] = []  # what the ids belong to, alive until the end
        self.classes: dict[type, int] = {}
        self.shapes: dict[tuple[type, tuple[str, ...]], int] = {}
        self.shape_rows: list[list[Any]] = []
        self.slots: dict[type, dict[str, Any]] = {}
        self.sklearn = False
        self.by_type: dict[type, Callable[[Any], None]] = {
            list: self.list_, tuple: self.tuple_, set: self.set_, frozenset: self.frozenset_,
            dict: self.dict_, deque: self.deque_, np.ndarray: self.ndarray,
        }
        if careful:
            self.by_type[int] = self.int_
            self.by_type[str] = self.str_

    def encode(self, state: Any) -> bytes:
        # [state, sklearn release, class table, shape table]: the tables are complete only
        # once the state is written, so they come after it, in the same buffer.
        self.out.pack_array_header(4)
        with _no_gc():
            self.value(state)
        self.memo.clear()  # half the memory of the buffer, not needed for the tables
        self.keep.clear()
        sklearn_version = None
        if self.sklearn:
            import sklearn

            sklearn_version = sklearn.__version__
        self.out.pack(sklearn_version)
        self.out.pack([_class_name(t) for t in self.classes])
        self.out.pack(self.shape_rows)
        return self.out.bytes()

    def value(self, o: Any) -> None:
        t = type(o)
        if t in self.plain:
            self.out.pack(o)
            return
        f = self.by_type.get(t)
        if f is None:
            f = self.by_type[t] = self.handler(t)
        f(o)

    def handler(self, t: type) -> Callable[[Any], None]:
        if issubclass(t, Settings):
            return lambda _: self.out.pack([SETTINGS])
        if issubclass(t, np.generic) and t is not np.object_:
            return self.npscalar
        if t.__module__ == "sklearn.tree._tree" and t.__qualname__ == "Tree":
            return self.tree
        if isinstance(t, type) and _allowed(t.__module__, t.__qualname__) \
                and not issubclass(t, (list, tuple, set, frozenset, dict, deque, int, float, str,
                                       bytes, BaseException)):
            return self.obj
        raise TypeError(f"the snapshot codec does not write {t.__module__}.{t.__qualname__}")

    def seen(self, o: Any) -> bool:
        """Write ``[REF, n]`` if ``o`` was written before; else number it."""
        n = self.memo.get(id(o))
        if n is not None:
            self.out.pack([REF, n])
            return True
        self.memo[id(o)] = len(self.keep)
        self.keep.append(o)
        return False

    def node(self, head: list[Any], items: Any) -> None:
        """Write ``head + [mode, items]``; ``items`` a list or tuple, iterated at most 3 times."""
        kinds = set(map(type, items))
        if kinds <= self.plain or (kinds == _TUPLE and self.plain.issuperset(
                map(type, chain.from_iterable(items)))):
            # one call: the C packer writes every item (tuples as bare arrays)
            self.out.pack([*head, PLAIN if kinds <= self.plain else TUPLES, items])
            return
        out = self.out
        out.pack_array_header(len(head) + 2)
        for x in head:
            out.pack(x)
        out.pack(NODES)
        out.pack_array_header(len(items))
        for x in items:
            self.value(x)

    def list_(self, o: list) -> None:
        if not self.seen(o):
            self.node([LIST], o)

    def tuple_(self, o: tuple) -> None:
        self.node([TUPLE], o)

    def set_(self, o: set) -> None:
        if not self.seen(o):
            self.node([SET], list(o))

    def frozenset_(self, o: frozenset) -> None:
        self.node([FROZENSET], list(o))

    def deque_(self, o: deque) -> None:
        if not self.seen(o):
            self.node([DEQUE, o.maxlen], list(o))

    def dict_(self, o: dict) -> None:
        if self.seen(o):
            return
        if self.plain.issuperset(map(type, o)) and self.plain.issuperset(map(type, o.values())):
            self.out.pack([DICTP, o])  # a msgpack map
            return
        # [DICT, key mode, keys, value mode, values]: a DICT node whose keys are a node's tail
        out = self.out
        out.pack_array_header(5)
        out.pack(DICT)
        self.items(list(o))  # keys first, then values: the reader's order
        self.items(list(o.values()))

    def items(self, items: list[Any]) -> None:
        """``mode, items`` (two msgpack values, no array around them)."""
        kinds = set(map(type, items))
        if kinds <= self.plain:
            self.out.pack(PLAIN)
            self.out.pack(items)
        elif kinds == _TUPLE and self.plain.issuperset(map(type, chain.from_iterable(items))):
            self.out.pack(TUPLES)
            self.out.pack(items)
        else:
            self.out.pack(NODES)
            self.out.pack_array_header(len(items))
            for x in items:
                self.value(x)

    # Scalars only the careful pass sees.

    def int_(self, o: int) -> None:
        if _INT_MIN <= o <= _INT_MAX:
            self.out.pack(o)
        else:
            self.out.pack([BIGINT, o.to_bytes((o.bit_length() + 8) // 8, "big", signed=True)])

    def str_(self, o: str) -> None:
        try:
            o.encode()
        except UnicodeEncodeError:
            self.out.pack([SURROGATES, o.encode("utf-8", "surrogatepass")])
            return
        self.out.pack(o)

    # numpy

    def ndarray(self, a: np.ndarray) -> None:
        if not self.seen(a):
            self.out.pack(_array_node(a))

    def npscalar(self, x: np.generic) -> None:
        if x.dtype.kind not in _KINDS:
            raise TypeError(f"the snapshot codec does not write numpy {x.dtype} scalars")
        self.out.pack([NPSCALAR, x.dtype.str, x.tobytes()])

    # objects

    def obj(self, o: Any) -> None:
        if self.seen(o):
            return
        t = type(o)
        slots = self.slots.get(t)
        if slots is None:
            slots = self.slots[t] = _slots(t)
        names: list[str] = []
        values: list[Any] = []
        for n, desc in slots.items():
            try:
                values.append(desc.__get__(o, t))
            except AttributeError:  # a slot never set stays unset
                continue
            names.append(n)
        d = getattr(o, "__dict__", None)
        if d:
            names += d
            values += d.values()
        key = (t, tuple(names))
        shape = self.shapes.get(key)
        if shape is None:
            cls = self.classes.get(t)
            if cls is None:
                cls = self.classes[t] = len(self.classes)
                self.sklearn |= t.__module__.startswith("sklearn.")
            shape = self.shapes[key] = len(self.shape_rows)
            self.shape_rows.append([cls, names])
        out = self.out
        out.pack_array_header(2 + len(values))
        out.pack(OBJ)
        out.pack(shape)
        for v in values:
            self.value(v)

    def tree(self, t: Any) -> None:
        # scikit-learn's own reduction of a Tree: Tree(n_features, n_classes, n_outputs) and a
        # state of plain numbers and two arrays (the nodes' record array, the leaf values).
        if self.seen(t):
            return
        self.sklearn = True
        _, (n_features, n_classes, n_outputs), st = t.__reduce__()
        self.out.pack([TREE, int(n_features), _array_node(np.asarray(n_classes)),
                       int(n_outputs), int(st["max_depth"]), int(st["node_count"]),
                       st["nodes"].tobytes(), _array_node(st["values"])])


@contextmanager
def _no_gc() -> Iterator[None]:
    # Encoding and decoding make millions of containers, none of them garbage: the cyclic
    # collector would walk the whole heap again and again for nothing (half of the time).
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _array_node(a: np.ndarray) -> list[Any]:
    if a.dtype.kind not in _KINDS or a.dtype.hasobject:
        raise TypeError(f"the snapshot codec does not write numpy {a.dtype} arrays")
    return [NDARRAY, a.dtype.str, list(a.shape), a.tobytes()]


def encode(state: Any) -> bytes:
    """``state`` as msgpack; `TypeError` if it holds anything this codec does not write."""
    for careful in (False, True):
        enc = _Encoder(careful)
        try:
            return enc.encode(state)
        except (OverflowError, UnicodeEncodeError):
            if careful:
                raise
        finally:
            enc.by_type.clear()  # its bound methods make a cycle: free the buffer now
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- decoding


def _resolve(spec: Any) -> type:
    """The class ``module:name`` names, if a snapshot may name it; `DecodeError` otherwise.
    Only modules of `OWN_PACKAGES` and of `FOREIGN_CLASSES` are ever imported."""
    if not isinstance(spec, str) or spec.count(":") != 1:
        raise DecodeError(f"snapshot names {str(spec)[:80]!r}, which a snapshot may not")
    module, name = spec.split(":")
    if not _allowed(module, name) or not all(p.isidentifier() for p in module.split(".")):
        raise DecodeError(f"snapshot names {module}.{name}, which a snapshot may not")
    mod = sys.modules.get(module)
    if mod is None:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            raise DecodeError(f"snapshot names {module}.{name}, which does not exist") from None
    cls = mod.__dict__.get(name)
    if not isinstance(cls, type) or cls.__module__ != module or cls.__qualname__ != name:
        raise DecodeError(f"snapshot names {module}.{name}, which a snapshot may not "
                          "(not a class defined there)")
    if issubclass(cls, (BaseException, type)):
        raise DecodeError(f"snapshot names {module}.{name}, which a snapshot may not")
    return cls


class _Shape:
    """How to build the objects of one shape: their class, and where each attribute goes."""

    __slots__ = ("cls", "names", "slots", "plain")

    def __init__(self, cls: type, names: Any) -> None:
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise DecodeError("bad attribute names")
        slots = _slots(cls)
        has_dict = cls.__dictoffset__ != 0
        for n in names:
            if n not in slots and not has_dict:
                raise DecodeError(f"{_class_name(cls)} has no attribute slot {n!r}")
            if n in slots and type(slots[n]) is not types.MemberDescriptorType:
                raise DecodeError(f"{_class_name(cls)}.{n} is not a plain slot")
        self.cls = cls
        self.names = names
        # (index, slot descriptor) of the attributes in slots; the rest go to the __dict__
        self.slots = [(i, slots[n]) for i, n in enumerate(names) if n in slots]
        self.plain = [n for n in names if n not in slots]


class _Decoder:
    def __init__(self, settings: Settings, shapes: list[_Shape]) -> None:
        self.settings = settings
        self.shapes = shapes
        self.objs: list[Any] = []  # by number, as written
        self.tags: dict[int, Callable[[list[Any]], Any]] = {
            REF: self.ref, LIST: self.list_, TUPLE: lambda v: tuple(self.items(v[1], v[2])),
            SET: self.set_, FROZENSET: lambda v: frozenset(self.items(v[1], v[2])),
            DICT: self.dict_, DICTP: self.dictp, DEQUE: self.deque_, NDARRAY: self.ndarray,
            NPSCALAR: self.npscalar, OBJ: self.obj, SETTINGS: lambda v: self.settings,
            BIGINT: self.bigint, SURROGATES: self.surrogates, TREE: self.tree,
        }

    def value(self, v: Any) -> Any:
        return self.tags[v[0]](v) if type(v) is list else v

    def items(self, mode: Any, vs: Any) -> list[Any]:
        if type(vs) is not list:
            raise DecodeError(f"expected items, found {type(vs).__name__}")
        if mode == PLAIN:
            return vs
        if mode == TUPLES:
            vs[:] = map(tuple, vs)
            return vs
        if mode != NODES:
            raise DecodeError(f"unknown item mode {mode!r}")
        # In place: each node read is dropped at once, so the unpacked payload is freed as the
        # state is built instead of both being held whole.
        tags = self.tags
        for i, v in enumerate(vs):
            if type(v) is list:
                vs[i] = tags[v[0]](v)
        return vs

    def new(self, o: Any) -> Any:
        self.objs.append(o)
        return o

    def ref(self, v: list[Any]) -> Any:
        n = v[1]
        if type(n) is not int or not 0 <= n < len(self.objs):
            raise DecodeError("reference to nothing")
        return self.objs[n]

    # A mutable container is numbered before its items are read (they may refer to it).

    def list_(self, v: list[Any]) -> list[Any]:
        if v[1] == PLAIN:
            return self.new(_check(v[2], list))  # the unpacker's own list
        out = self.new([])
        out.extend(self.items(v[1], v[2]))
        return out

    def set_(self, v: list[Any]) -> set:
        out = self.new(set())
        out.update(self.items(v[1], v[2]))
        return out

    def dict_(self, v: list[Any]) -> dict:
        out = self.new({})
        keys = self.items(v[1], v[2])
        out.update(zip(keys, self.items(v[3], v[4]), strict=True))
        return out

    def dictp(self, v: list[Any]) -> dict:
        return self.new(_check(v[1], dict))

    def deque_(self, v: list[Any]) -> deque:
        maxlen = v[1]
        if maxlen is not None and (type(maxlen) is not int or maxlen < 0):
            raise DecodeError("bad deque length")
        out = self.new(deque(maxlen=maxlen))
        out.extend(self.items(v[2], v[3]))
        return out

    def ndarray(self, v: list[Any]) -> np.ndarray:
        return self.new(_array(v))

    def npscalar(self, v: list[Any]) -> np.generic:
        dt = _dtype(v[1])
        if not isinstance(v[2], bytes) or len(v[2]) != dt.itemsize:
            raise DecodeError("bad numpy scalar")
        return np.frombuffer(v[2], dtype=dt)[0]

    def bigint(self, v: list[Any]) -> int:
        return int.from_bytes(_check(v[1], bytes), "big", signed=True)

    def surrogates(self, v: list[Any]) -> str:
        return _check(v[1], bytes).decode("utf-8", "surrogatepass")

    def obj(self, v: list[Any]) -> Any:
        n = v[1]
        if type(n) is not int or not 0 <= n < len(self.shapes):
            raise DecodeError("object of no shape")
        shape = self.shapes[n]
        if len(v) != 2 + len(shape.names):
            raise DecodeError(f"{_class_name(shape.cls)} with the wrong number of attributes")
        # No __init__, no __setstate__: an empty instance, then its attributes.
        o = self.new(object.__new__(shape.cls))
        tags = self.tags
        for i in range(2, len(v)):  # in place, as `items`
            x = v[i]
            if type(x) is list:
                v[i] = tags[x[0]](x)
        values = v[2:]
        for i, desc in shape.slots:
            desc.__set__(o, values[i])
        if shape.plain:
            d = o.__dict__
            if len(shape.plain) == len(values):
                d.update(zip(shape.names, values, strict=True))
            else:
                d.update((n, x) for n, x in zip(shape.names, values, strict=True)
                         if n in shape.plain)
        return o

    def tree(self, v: list[Any]) -> Any:
        from sklearn.tree._tree import NODE_DTYPE, Tree

        _, n_features, n_classes_node, n_outputs, max_depth, node_count, nodes, values_node = v
        n_classes = _array(n_classes_node)
        values = _array(values_node)
        if not all(type(x) is int for x in (n_features, n_outputs, max_depth, node_count)) \
                or not 0 < n_features < 1 << 20 or not 0 < n_outputs < 1 << 10 \
                or not 0 <= max_depth < 1 << 16 or not 0 < node_count < 1 << 31 \
                or n_classes.dtype.kind != "i" or n_classes.shape != (n_outputs,) \
                or not (n_classes >= 1).all() or not isinstance(nodes, bytes) \
                or len(nodes) != node_count * NODE_DTYPE.itemsize \
                or values.shape != (node_count, n_outputs, int(n_classes.max())):
            raise DecodeError("bad tree")
        rec = np.frombuffer(nodes, dtype=NODE_DTYPE).copy()
        # The tree is walked by compiled code without bounds checks: every child must be a
        # later node (so a walk ends), or both -1 (a leaf); every split a feature of the input.
        left, right, feature = rec["left_child"], rec["right_child"], rec["feature"]
        idx = np.arange(node_count)
        leaf = (left == -1) & (right == -1)
        split = ~leaf & (left > idx) & (right > idx) & (left < node_count) \
            & (right < node_count) & (feature >= 0) & (feature < n_features)
        if not (leaf | split).all():
            raise DecodeError("bad tree")
        tree = self.new(Tree(n_features, n_classes.astype(np.intp), n_outputs))
        tree.__setstate__({"max_depth": max_depth, "node_count": node_count, "nodes": rec,
                           "values": values.astype(np.float64)})
        return tree


def _check(x: Any, t: type) -> Any:
    if type(x) is not t:
        raise DecodeError(f"expected {t.__name__}, found {type(x).__name__}")
    return x


def _dtype(s: Any) -> np.dtype:
    if not isinstance(s, str) or len(s) > 8:
        raise DecodeError("bad dtype")
    try:
        dt = np.dtype(s)
    except TypeError:
        raise DecodeError(f"bad dtype {s!r}") from None
    if dt.kind not in _KINDS or dt.hasobject or dt.fields is not None:
        raise DecodeError(f"numpy {dt} is not data a snapshot may hold")
    return dt


def _array(v: Any) -> np.ndarray:
    if type(v) is not list or len(v) != 4 or v[0] != NDARRAY:
        raise DecodeError("expected an array")
    _, s, shape, raw = v
    dt = _dtype(s)
    if type(shape) is not list or not all(type(n) is int and n >= 0 for n in shape) \
            or not isinstance(raw, bytes) or math.prod(shape) * dt.itemsize != len(raw):
        raise DecodeError("bad array")
    # A writable copy: detectors update their arrays in place.
    return np.frombuffer(raw, dtype=dt).reshape(shape).copy()


def decode(payload: bytes | memoryview, settings: Settings) -> Any:
    """The state `encode` wrote, with ``settings`` wherever it had the settings; `DecodeError`
    when the payload names a class a snapshot may not, or is not one `encode` wrote."""
    with _no_gc():
        return _decode(payload, settings)


def _decode(payload: bytes | memoryview, settings: Settings) -> Any:
    try:
        root, sklearn_version, classes, shape_rows = msgpack.unpackb(
            payload, raw=False, strict_map_key=False, use_list=True)
    except (ValueError, TypeError, msgpack.UnpackException) as e:
        raise DecodeError(f"not a msgpack snapshot: {e}") from None
    if not isinstance(classes, list) or not isinstance(shape_rows, list):
        raise DecodeError("bad class or shape table")
    # Every class is checked before a single object is built.
    resolved = [_resolve(c) for c in classes]
    if sklearn_version is not None or any(c.__module__.startswith("sklearn.")
                                          for c in resolved):
        import sklearn

        if sklearn_version != sklearn.__version__:
            # A fitted forest is scikit-learn's internals: read it only with the same release.
            raise DecodeError(f"snapshot of scikit-learn {sklearn_version}, "
                              f"running {sklearn.__version__}")
    shapes = []
    for row in shape_rows:
        if type(row) is not list or len(row) != 2 or type(row[0]) is not int \
                or not 0 <= row[0] < len(resolved):
            raise DecodeError("bad shape")
        shapes.append(_Shape(resolved[row[0]], row[1]))
    dec = _Decoder(settings, shapes)
    try:
        return dec.value(root)
    finally:
        dec.tags.clear()  # its bound methods make a cycle: free the decoder now
