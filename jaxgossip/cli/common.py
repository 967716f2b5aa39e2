"""What the commands share: argument types, the output options, error reporting."""

from __future__ import annotations

import argparse
import os
import sys


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def rate(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite rate > 0, got {text}")
    return value


def add_output_arguments(parser: argparse.ArgumentParser, *, default, help: str) -> None:
    """``--out`` (the output folder) and ``--overwrite``."""
    parser.add_argument("--out", default=default, help=help)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace output files that already exist"
    )


def refuse_existing(out: str, paths) -> str | None:
    """The refusal to print when some of ``paths`` exist (six named at most), else None."""
    existing = [path for path in paths if os.path.exists(path)]
    if not existing:
        return None
    shown = ", ".join(os.path.basename(p) for p in existing[:6])
    more = f" and {len(existing) - 6} more" if len(existing) > 6 else ""
    return (
        f"{out!r} already holds {shown}{more}; pass --overwrite to replace them, or "
        "choose another --out."
    )


def error(message: str, command: str) -> int:
    """Prints ``jaxgossip COMMAND: error: MESSAGE`` to stderr; returns the exit code 2."""
    print(f"jaxgossip {command}: error: {message}", file=sys.stderr)
    return 2


def check_outputs(out: str, paths, overwrite: bool, *, prefix: str, replace_hint: str) -> None:
    """Refuses to write into ``out`` when it is a file, or over existing ``paths``.

    Raises:
      FileExistsError: ``out`` is a file, or some of ``paths`` exist and
        ``overwrite`` is False (naming them all, then ``replace_hint``).
    """
    if os.path.exists(out) and not os.path.isdir(out):
        raise FileExistsError(f"{prefix}the output folder {out!r} is a file.")
    existing = [p for p in paths if os.path.exists(p)]
    if existing and not overwrite:
        raise FileExistsError(
            f"{prefix}{len(existing)} output file(s) exist already: {', '.join(existing)}; "
            + replace_hint
        )
