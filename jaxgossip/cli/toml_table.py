"""The reading primitive of TOML study files: a ``Table`` that knows its key path.

Every reader of ``jaxgossip.cli.config`` takes one: ``get`` checks a key's
type, ``done`` refuses a key never read (suggesting the closest valid one),
and ``error`` names the file and the key path (``algorithms[1].grid.step_size``).
"""

from __future__ import annotations

import difflib
import math
import re

from jaxgossip.network.factory import did_you_mean
from jaxgossip.study.spec import ExperimentError

__all__ = ["Table", "check_type", "read_label", "toml_type"]

_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+=-]*")
_MISSING = object()
_TYPE_NAMES = {int: "an integer", float: "a number", bool: "a boolean", str: "a string"}


def toml_type(value) -> str:
    """How TOML names the type of ``value``: "an integer", "a table", ..."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names.update({dict: "a table", list: "an array"})
    return names.get(type(value), type(value).__name__)


class Table:
    """A TOML table being read: knows its key path, and which keys were read."""

    def __init__(self, file: str, path: str, data: dict):
        self.file, self.path, self.data, self.read = file, path, data, set()

    def key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str | None, message: str) -> ExperimentError:
        return ExperimentError(self.file, self.path if key is None else self.key(key), message)

    def get(self, key: str, kind, default=_MISSING):
        """The value of ``key``, checked to be of ``kind`` (int, float, bool or str)."""
        self.read.add(key)
        if key not in self.data:
            if default is _MISSING:
                raise self.error(key, f"missing; expected {_TYPE_NAMES[kind]}{self._typo(key)}")
            return default
        return check_type(self, key, self.data[key], kind)

    def table(self, key: str, *, required: bool = True) -> Table:
        self.read.add(key)
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if required:
                raise self.error(
                    key, f"missing; expected a [{self.key(key)}] table{self._typo(key)}"
                )
            value = {}
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table, got {toml_type(value)}")
        return Table(self.file, self.key(key), value)

    def tables(self, key: str) -> list[Table]:
        """An array of tables, ``[[key]]``."""
        self.read.add(key)
        value = self.data[key]
        if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
            raise self.error(key, f"expected one or more [[{self.key(key)}]] tables")
        return [Table(self.file, f"{self.key(key)}[{k}]", v) for k, v in enumerate(value)]

    def _typo(self, key: str) -> str:
        """A hint naming a key of the table that may be ``key`` misspelt."""
        close = difflib.get_close_matches(key, [k for k in self.data if k not in self.read], n=1)
        return f" (is {close[0]!r} a misspelling of {key!r}?)" if close else ""

    def done(self, *, valid=(), hints: dict | None = None) -> None:
        """Raises on the first key that was never read, suggesting the closest valid key."""
        for key in self.data:
            if key in self.read or key in valid:
                continue
            if hints and key in hints:
                raise self.error(key, hints[key])
            choices = sorted({*self.read, *valid})
            raise self.error(
                key,
                f"unknown key {key!r}{did_you_mean(key, choices)} "
                f"(valid keys: {', '.join(choices)})",
            )


def check_type(table: Table, key: str, value, kind):
    """``value`` of ``table[key]`` if it is of ``kind`` (an int is a float); else raises."""
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise table.error(key, f"expected a finite number, got {value}")
        return float(value)
    if kind is int and isinstance(value, float) and value.is_integer():
        raise table.error(
            key, f"expected an integer, got {value!r} (a float); write {int(value)} instead"
        )
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise table.error(key, f"expected {_TYPE_NAMES[kind]}, got {value!r} ({toml_type(value)})")


def read_label(table: Table, default: str, labels: dict, what: str) -> str:
    """``label`` (default ``default``): it names files, so letters, digits and _ . + = -,
    distinct among the tables read so far (``labels``: label -> key path)."""
    label = table.get("label", str, default)
    if not _LABEL.fullmatch(label) or "__" in label:
        raise table.error(
            "label",
            f"expected letters, digits and _ . + = - (not starting with a symbol, no '__'): "
            f"it names files; got {label!r}",
        )
    if label in labels:
        raise table.error(
            "label",
            f"{what} label {label!r} is already used by {labels[label]}; give each a "
            "distinct label",
        )
    labels[label] = table.path
    return label
