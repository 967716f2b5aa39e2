"""Saving and loading traces: one ``.npz`` file, lossless, written atomically.

Layout of the file (plain NumPy, readable without jaxgossip):

- ``__metadata__``: a uint8 array holding UTF-8 JSON: the format name and
  version, ``jaxgossip.version.VERSION``, the user's config, the labels in order,
  and for each trace field the structure of its pytree (which entry holds each
  leaf, its dtype, and the containers around the leaves).
- ``<k>/<field>`` or ``<k>/<field>/<path>``: one array per leaf of trace k
  (k indexes the labels, so a label may hold any character).

Supported pytree nodes are arrays (any dtype, including bfloat16 and typed PRNG
keys), ``None``, tuples, lists, dicts, NamedTuples and ``eqx.Module``s; the
containers' classes are re-imported by name on load. Shapes are kept as they
are, so traces batched by ``jax.vmap`` (leading seed or sweep axes) round-trip
unchanged. Arrays load as NumPy arrays: bit-exact whatever ``jax_enable_x64``
says (a JAX array would silently become float32 without x64). Every entry of
the zip carries a CRC-32, so a truncated or damaged file raises
``CorruptFileError`` naming it; it never loads other values.
"""

from __future__ import annotations

import collections
import dataclasses
import importlib
import json
import os
import secrets
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.engine.trace import Trace
from jaxgossip.version import VERSION

FORMAT = "jaxgossip.traces"
FORMAT_VERSION = 1
_METADATA = "__metadata__"
BARE_LABEL = "trace"  # the label of a bare Trace given to save_traces

# What reading a truncated or damaged .npz raises, from zipfile, NumPy or json
# (ValueError covers bad .npy headers, JSON and UTF-8 errors).
_UNREADABLE = (
    zipfile.BadZipFile,
    EOFError,
    zlib.error,
    struct.error,
    ValueError,
    KeyError,
    NotImplementedError,
    OverflowError,
)


class CorruptFileError(ValueError):
    """A file that cannot be read back: truncated, damaged, or inconsistent with its metadata."""


def save_traces(
    path,
    traces: dict[str, Trace] | Trace,
    *,
    config: dict | None = None,
    overwrite: bool = False,
) -> None:
    """Writes labelled traces and a config to one ``.npz`` file, atomically.

    The file is written to a temporary file in the same directory, flushed to
    disk, then moved into place: a reader never sees a partial file, and a
    failed write leaves nothing behind.

    Args:
      path: the file to write (no suffix is added).
      traces: label -> ``Trace``, single or batched (leading vmap axes); a
        bare ``Trace`` is saved under the label ``"trace"`` (``BARE_LABEL``).
      config: JSON-serialisable description of the experiment; NumPy/JAX
        scalars and arrays are stored as numbers and (nested) lists.
      overwrite: replace an existing file instead of refusing.

    Raises:
      FileExistsError: ``path`` exists and ``overwrite`` is False.
      TypeError: a label is not a string, a trace is not a ``Trace``, the config
        is not JSON-serialisable, or a pytree node is of an unsupported kind.
    """
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(
            f"save_traces: {path!r} already exists; pass overwrite=True to replace it."
        )
    if isinstance(traces, Trace):
        traces = {BARE_LABEL: traces}
    if not isinstance(traces, dict):
        raise TypeError(
            "save_traces: traces must be a Trace or a dict label -> Trace; "
            f"got {type(traces).__name__}."
        )
    arrays: dict[str, np.ndarray] = {}
    structures = []
    for k, (label, trace) in enumerate(traces.items()):
        if not isinstance(label, str):
            raise TypeError(f"save_traces: labels must be strings; got {label!r}.")
        if not isinstance(trace, Trace):
            raise TypeError(
                f"save_traces: traces[{label!r}] is a {type(trace).__name__}, not a Trace."
            )
        structures.append(
            {
                f.name: _encode(getattr(trace, f.name), f"{k}/{f.name}", arrays)
                for f in dataclasses.fields(trace)
            }
        )
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "jaxgossip_version": VERSION,
        "config": config,
        "labels": list(traces),
        "structures": structures,
    }
    try:
        text = json.dumps(metadata, default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as error:
        raise TypeError(f"save_traces: the config is not JSON-serialisable: {error}") from None
    arrays[_METADATA] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    atomic_write(path, lambda f: np.savez(f, **arrays), overwrite=overwrite)


def load_traces(path) -> tuple[dict[str, Trace], dict | None]:
    """Reads a file written by ``save_traces``.

    Returns:
      ``(traces, config)``: label -> ``Trace`` in the saved order, with NumPy
      array leaves of the saved shapes and dtypes, and the saved config.

    Raises:
      CorruptFileError: the file is truncated or damaged (every entry of the
        ``.npz`` is checksummed, so damage is found, not loaded).
      ValueError: the file is not a jaxgossip traces file, or a newer format.
    """
    path = os.fspath(path)
    data, metadata = read_npz("load_traces", path)
    if (
        not isinstance(metadata, dict)
        or metadata.get("format") != FORMAT
        or not isinstance(metadata.get("format_version"), int)
    ):
        raise ValueError(f"load_traces: {path!r} is not a jaxgossip traces file.")
    if metadata["format_version"] > FORMAT_VERSION:
        raise ValueError(
            f"load_traces: {path!r} has format version {metadata['format_version']}, "
            f"newer than this jaxgossip reads ({FORMAT_VERSION}); upgrade jaxgossip."
        )
    names = [f.name for f in dataclasses.fields(Trace)]
    traces = {}
    try:
        for label, structure in zip(metadata["labels"], metadata["structures"], strict=True):
            # Files written before learning problems have no ``metrics``: none.
            missing = sorted(set(names) - set(structure) - {"metrics"})
            if missing:
                raise ValueError(f"trace {label!r} lacks the fields {missing}")
            present = [name for name in names if name in structure]
            traces[label] = Trace(**{name: _decode(structure[name], data) for name in present})
        config = metadata["config"]
    except (*_UNREADABLE, TypeError, AttributeError, IndexError) as error:
        raise CorruptFileError(
            f"load_traces: {path!r} is corrupt: its metadata does not match its arrays "
            f"({type(error).__name__}: {error})."
        ) from error
    return traces, config


def read_npz(caller: str, path: str) -> tuple[dict[str, np.ndarray], Any]:
    """Every array of the ``.npz`` at ``path`` and its decoded JSON ``__metadata__`` (None if none).

    Raises:
      CorruptFileError: naming ``caller`` and the file, if it is truncated or
        damaged: zip checksums, ``.npy`` headers and the JSON are all checked.
    """
    try:
        # The file is ours to close: np.load leaks it when it refuses a pickle.
        with open(path, "rb") as f:
            loaded = np.load(f, allow_pickle=False)
            if not hasattr(loaded, "files"):  # a lone .npy array: readable, but not ours
                return {}, None
            with loaded as npz:
                data = {name: npz[name] for name in npz.files}
        metadata = data.pop(_METADATA, None)
        if metadata is not None:
            metadata = json.loads(metadata.tobytes().decode("utf-8"))
    except _UNREADABLE as error:
        raise CorruptFileError(
            f"{caller}: {path!r} is truncated or corrupt ({type(error).__name__}: {error})."
        ) from error
    return data, metadata


def atomic_write(path, write: Callable[[Any], None], *, overwrite: bool = False) -> None:
    """Calls ``write(file)`` on a temporary file beside ``path``, then moves it into place.

    Without ``overwrite`` the move is a hard link, which fails if ``path`` has
    appeared meanwhile, so a concurrent writer is never clobbered either.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = _create_temporary(directory, os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            _move_no_clobber(temporary, path)
        _fsync_directory(directory)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _create_temporary(directory: str, name: str) -> tuple[int, str]:
    """Opens a new hidden file beside the target.

    Unlike ``tempfile.mkstemp`` (mode 0600), mode 0666 filtered by the umask
    gives the saved file the permissions of any other file the user writes.
    """
    while True:
        temporary = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:  # a name collision: draw another
            continue


def _move_no_clobber(temporary: str, path: str) -> None:
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise FileExistsError(
            f"{path!r} already exists; pass overwrite=True to replace it."
        ) from None
    except OSError:  # hard links unsupported here (some network or FAT file systems)
        if os.path.exists(path):
            raise FileExistsError(
                f"{path!r} already exists; pass overwrite=True to replace it."
            ) from None
        os.replace(temporary, path)
    else:
        os.remove(temporary)


def _fsync_directory(directory: str) -> None:
    """Makes the rename itself durable; a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _json_default(value):
    if isinstance(value, (np.generic, np.ndarray, jax.Array)):
        return np.asarray(value).tolist()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON-serialisable")


# --- pytrees <-> (JSON structure, named arrays) ------------------------------------


def _class_name(obj) -> str:
    cls = type(obj)
    return f"{cls.__module__}:{cls.__qualname__}"


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(type(obj), "_fields")


def _encode(node, name: str, arrays: dict[str, np.ndarray]):
    """The JSON description of ``node``; its array leaves are added to ``arrays``."""
    if node is None:
        return {"kind": "none"}
    if _is_namedtuple(node):
        return {
            "kind": "namedtuple",
            "class": _class_name(node),
            "fields": list(node._fields),
            "children": [_encode(c, f"{name}/{f}", arrays) for f, c in zip(node._fields, node)],
        }
    if isinstance(node, (tuple, list)):
        return {
            "kind": type(node).__name__,
            "children": [_encode(c, f"{name}/{i}", arrays) for i, c in enumerate(node)],
        }
    if isinstance(node, dict):
        if not all(isinstance(key, str) for key in node):
            raise TypeError(f"save_traces: {name} is a dict with non-string keys.")
        return {
            "kind": "dict",
            "keys": list(node),
            "children": [_encode(c, f"{name}/{i}", arrays) for i, c in enumerate(node.values())],
        }
    if isinstance(node, (jax.Array, np.ndarray, np.generic)):
        return _encode_array(node, name, arrays)
    if isinstance(node, eqx.Module):
        fields, static = {}, {}
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if f.metadata.get("static", False):
                static[f.name] = value
            else:
                fields[f.name] = _encode(value, f"{name}/{f.name}", arrays)
        try:
            json.dumps(static)
        except TypeError:
            raise TypeError(
                f"save_traces: the static fields of {name} ({_class_name(node)}) "
                "are not JSON-serialisable."
            ) from None
        return {"kind": "module", "class": _class_name(node), "fields": fields, "static": static}
    raise TypeError(
        f"save_traces: {name} is a {type(node).__name__}; supported pytree nodes are arrays, "
        "None, tuples, lists, dicts, NamedTuples and eqx.Modules."
    )


def _encode_array(value, name: str, arrays: dict[str, np.ndarray]):
    entry = {"kind": "array", "entry": name}
    if isinstance(value, jax.Array) and jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
        entry["key_impl"] = str(jax.random.key_impl(value))
        value = jax.random.key_data(value)
    array = np.asarray(value)
    if array.dtype.isbuiltin == 2:
        # Extension dtypes (bfloat16, float8, int4, ...) would be saved as opaque
        # void records: store their bits and restore the dtype by name on load.
        entry["dtype"] = array.dtype.name
        array = array.view(f"u{array.dtype.itemsize}")
    else:
        entry["dtype"] = array.dtype.str
    arrays[name] = array
    return entry


def _import(name: str):
    module, _, qualname = name.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _import_or_warn(name: str):
    try:
        return _import(name)
    except (ImportError, AttributeError):
        warnings.warn(
            f"load_traces: cannot import {name}; loading it as a plain container instead.",
            stacklevel=4,
        )
        return None


def _decode(structure, data):
    kind = structure["kind"]
    if kind == "none":
        return None
    if kind == "array":
        return _decode_array(structure, data)
    if kind in ("tuple", "list"):
        children = [_decode(c, data) for c in structure["children"]]
        return tuple(children) if kind == "tuple" else children
    if kind == "dict":
        children = [_decode(c, data) for c in structure["children"]]
        return dict(zip(structure["keys"], children))
    if kind == "namedtuple":
        children = [_decode(c, data) for c in structure["children"]]
        cls = _import_or_warn(structure["class"])
        if cls is None:
            simple_name = structure["class"].rpartition(".")[2].rpartition(":")[2]
            cls = collections.namedtuple(simple_name, structure["fields"])
        return cls(*children)
    if kind == "module":
        fields = {k: _decode(c, data) for k, c in structure["fields"].items()}
        fields.update(structure["static"])
        cls = _import_or_warn(structure["class"])
        if cls is None:
            return fields
        # As equinox's own unflatten does: set the fields without running __init__,
        # whose converters and checks already ran when the module was first built.
        module = object.__new__(cls)
        for k, value in fields.items():
            object.__setattr__(module, k, value)
        return module
    raise ValueError(f"load_traces: unknown pytree node kind {kind!r}.")


def _decode_array(structure, data):
    array = data[structure["entry"]]
    dtype = np.dtype(jnp.dtype(structure["dtype"]))  # jnp knows the extension dtypes
    if array.dtype != dtype:
        array = array.view(dtype)
    if "key_impl" in structure:
        return jax.random.wrap_key_data(array, impl=structure["key_impl"])
    return array
