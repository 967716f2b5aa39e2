"""Fingerprints of runs: what a checkpoint must match before it is resumed.

A fingerprint is a dict of named parts (``"algorithm"``, ``"problem"``,
``"key"``, ``"num_events"``, ...). A part that is a plain number, string or
None is kept as it is, so an error can show both values; any other part is
replaced by ``digest``: a SHA-256 over every byte that determines it: each
array leaf's dtype, shape and raw bytes, each container's class and field
names, every static field, and for a function its code and closure. Two runs
share a fingerprint only if they would compute the same thing, bit for bit; a
sum per array (the earlier check) let permuted rates or another ``x0`` through.
``parts`` adds what every run depends on besides its inputs: the x64 flag and
the library version.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import re
import types

import jax
import numpy as np

from jaxgossip import version

_PLAIN = (bool, int, float, str, type(None))
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_DIGEST = re.compile(r"[0-9a-f]{64}")


def digest(tree) -> str:
    """The SHA-256 hex digest of everything in ``tree`` (any pytree or Python value).

    Arrays (NumPy, JAX, typed PRNG keys) count by dtype, shape and bytes;
    containers (tuples, lists, dicts, NamedTuples, dataclasses, ``eqx.Module``s,
    other registered pytrees) by class, keys and children, static fields
    included; functions by qualified name, bytecode, constants, defaults and
    closure (not line numbers). Equal inputs give equal digests in any process.
    """
    h = hashlib.sha256()
    _feed(h, tree, set())
    return h.hexdigest()


def parts(**named) -> dict:
    """A fingerprint: each named part kept (plain scalars) or digested, plus x64 and version."""
    fingerprint = {
        name: value if type(value) in _PLAIN else digest(value) for name, value in named.items()
    }
    fingerprint["x64"] = bool(jax.config.jax_enable_x64)
    fingerprint["version"] = version.VERSION
    return fingerprint


def file_digest(path) -> str | None:
    """SHA-256 of a file's bytes, or None if there is no such file."""
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except FileNotFoundError:
        return None


def differences(saved, current: dict) -> list[str]:
    """The parts in which ``saved`` differs from ``current``, described for an error message.

    A part missing on either side (a checkpoint of an older format) differs too.
    """
    if not isinstance(saved, dict):
        return ["all (the checkpoint holds no fingerprint)"]
    found = []
    for name in sorted(set(saved) | set(current), key=lambda n: (n not in current, n)):
        old, new = saved.get(name, "<absent>"), current.get(name, "<absent>")
        if old == new:
            continue
        if _is_digest(old) or _is_digest(new):  # a digest says nothing to a reader
            found.append(name)
        else:
            found.append(f"{name} ({old!r} in the checkpoint, {new!r} now)")
    return found


def check_resumable(path, saved, current: dict) -> None:
    """Raises a ValueError naming every part in which checkpoint ``path`` differs from this run."""
    found = differences(saved, current)
    if found:
        raise ValueError(
            f"checkpoint {os.fspath(path)!r} comes from another run: it differs in "
            f"{', '.join(found)}. Delete it or pass resume=False to start over."
        )


def _is_digest(value) -> bool:
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def _qualified(obj) -> str:
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', type(obj).__name__)}"


def _feed(h, node, seen: set) -> None:
    """Adds ``node`` to the hash ``h``, tagged by kind so different trees cannot collide."""
    if isinstance(node, (jax.Array, np.ndarray, np.generic)):
        _feed_array(h, node)
        return
    if isinstance(node, (*_PLAIN, complex, bytes)):
        h.update(f"<{type(node).__name__}:{node!r}>".encode())
        return
    if id(node) in seen:  # a cycle (a closure naming itself): the reference is enough
        h.update(b"<cycle>")
        return
    seen = seen | {id(node)}
    if isinstance(node, type):
        h.update(f"<type:{_qualified(node)}>".encode())
    elif isinstance(node, (tuple, list)):
        fields = getattr(type(node), "_fields", None)  # a NamedTuple
        h.update(f"<{_qualified(type(node))}:{len(node)}:{fields}>".encode())
        for child in node:
            _feed(h, child, seen)
    elif isinstance(node, dict):
        h.update(f"<dict:{len(node)}>".encode())
        for k, child in node.items():
            _feed(h, k, seen)
            _feed(h, child, seen)
    elif isinstance(node, (set, frozenset)):
        h.update(f"<set:{sorted(digest(item) for item in node)}>".encode())
    elif dataclasses.is_dataclass(node):  # eqx.Module included: static fields count too
        h.update(f"<dataclass:{_qualified(type(node))}>".encode())
        for f in dataclasses.fields(node):
            h.update(f.name.encode())
            _feed(h, getattr(node, f.name, None), seen)
    elif isinstance(node, functools.partial):
        h.update(b"<partial>")
        _feed(h, (node.func, node.args, node.keywords), seen)
    elif isinstance(node, types.MethodType):
        h.update(b"<method>")
        _feed(h, (node.__func__, node.__self__), seen)
    elif isinstance(node, types.FunctionType):
        # By name and code, so a lambda fixing another constant differs; the
        # closure's values count, so a lambda closing over another array does too.
        h.update(f"<function:{_qualified(node)}>".encode())
        _feed_code(h, node.__code__)
        cells = [c.cell_contents if _filled(c) else None for c in node.__closure__ or ()]
        _feed(h, (node.__defaults__, node.__kwdefaults__, cells), seen)
    elif isinstance(node, types.CodeType):
        _feed_code(h, node)
    elif callable(node) and hasattr(node, "__wrapped__"):  # jax.jit, functools.wraps
        h.update(f"<wrapper:{type(node).__name__}>".encode())
        _feed(h, node.__wrapped__, seen)
    else:
        leaves, treedef = jax.tree.flatten(node, is_leaf=lambda x: x is not node)
        if treedef.num_leaves == 1 and leaves and leaves[0] is node:
            # An opaque object: its class and its repr, without memory addresses.
            h.update(f"<object:{_qualified(type(node))}:{_ADDRESS.sub('', repr(node))}>".encode())
        else:  # a registered pytree node (its static data is in the treedef)
            h.update(f"<pytree:{_qualified(type(node))}:{_ADDRESS.sub('', str(treedef))}>".encode())
            for child in leaves:
                _feed(h, child, seen)


def _filled(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:  # an empty cell (a name not yet bound)
        return False
    return True


def _feed_code(h, code: types.CodeType) -> None:
    h.update(b"<code>" + code.co_code)
    h.update(repr((code.co_names, code.co_varnames, code.co_freevars)).encode())
    for const in code.co_consts:
        _feed(h, const, set())


def _feed_array(h, value) -> None:
    if isinstance(value, jax.Array) and jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
        h.update(f"<key:{jax.random.key_impl(value)}>".encode())
        value = jax.random.key_data(value)
    array = np.ascontiguousarray(np.asarray(value))
    h.update(f"<array:{array.dtype.name}:{array.dtype.str}:{array.shape}>".encode())
    h.update(array.tobytes())
