"""What the commands share: argument types, the parser, precision, progress, error reporting."""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shlex
import sys

import jax

INTERRUPTED = 130  # the exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells use


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line: ``PROG: error: MESSAGE``.

    argparse prints the whole usage block before the message; for a command with
    a dozen options that buries the one line that matters. ``--help`` still
    shows the usage.
    """

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions of several lines as written, and ends each option's help with
    its default.

    A help text that already says its default (``(default: ...)`` in words, for
    a default computed at run time) is left as it is, and so is a required one's.
    """

    def _fill_text(self, text, width, indent):
        if "\n" in text.strip():  # laid out by hand (a module docstring)
            return super()._fill_text(text, width, indent)
        return argparse.HelpFormatter._fill_text(self, text, width, indent)

    def _get_help_string(self, action):
        text = action.help or ""
        said = "%(default)" in text or "default" in text
        if said or action.required or action.default is argparse.SUPPRESS:
            return text
        if action.option_strings or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return f"{text} (default: %(default)s)"
        return text


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def seed(text: str) -> int:
    """An argparse type: a key seed, an integer in [0, 2**32)."""
    value = _integer(text)
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**32), got {value}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def rate(text: str) -> float:
    """An argparse type: a finite number > 0."""
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a finite rate > 0, got {text}")
    return value


def positive_number(text: str) -> float:
    """An argparse type: a finite number > 0 (a target eps, a scale)."""
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def condition_number(text: str) -> float:
    """An argparse type: a finite kappa = L / mu >= 1."""
    value = _number(text)
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"expected a condition number L/mu >= 1, got {text}")
    return value


def add_output_arguments(parser: argparse.ArgumentParser, *, default, help: str) -> None:
    """``--out`` (the output folder) and ``--overwrite``."""
    parser.add_argument("--out", default=default, help=help)
    parser.add_argument(
        "--overwrite", action="store_true", help="replace output files that already exist"
    )


def add_float64_argument(parser: argparse.ArgumentParser, *, default: bool = False) -> None:
    """``--float64`` (``--float64/--no-float64`` when it is on by default)."""
    help = "compute in float64 (jax_enable_x64), for targets below float32's resolution"
    if default:
        parser.add_argument(
            "--float64", action=argparse.BooleanOptionalAction, default=True, help=help
        )
    else:
        parser.add_argument("--float64", action="store_true", help=help)


def add_resume_argument(parser: argparse.ArgumentParser, what: str, continued: str = "") -> None:
    """``--resume``: keep the finished parts of an interrupted run of the same file."""
    parser.add_argument(
        "--resume",
        action="store_true",
        help=f"finish an interrupted run of the same file into the same --out: keep the "
        f"{what} whose results are saved{continued}, run the others",
    )


def float64(enabled: bool):
    """A context in which JAX computes in float64 (int64), if ``enabled``; else a no-op.

    ``jax.enable_x64(True)``: the scoped form of ``jax.config.update(
    "jax_enable_x64", True)``. A command enters it before it creates any array,
    so that every array it makes is float64 from the start; leaving it restores
    the caller's setting (tests run many commands in one process).
    """
    return jax.enable_x64(True) if enabled else contextlib.nullcontext()


def progress_bar(total: int, unit: str, description: str):
    """A ``tqdm`` bar on stderr counting ``total`` ``unit``s; ``bar.write`` prints above it.

    The bar appears at its first use (a line written, a step counted): a command
    that fails while it checks and builds its inputs prints its one-line error
    alone.
    """
    return _LazyBar(dict(total=total, unit=unit, desc=description))


class _LazyBar:
    """A ``tqdm`` bar made on first use; a context manager that closes it if made."""

    def __init__(self, options: dict):
        self.options, self.bar = options, None

    def _made(self):
        if self.bar is None:
            from tqdm import tqdm  # imported here: only the long-running commands need it

            self.bar = tqdm(**self.options, file=sys.stderr, dynamic_ncols=True)
        return self.bar

    def write(self, line: str) -> None:
        self._made().write(line)

    def update(self, n: int = 1) -> None:
        self._made().update(n)

    def set_postfix_str(self, text: str) -> None:
        self._made().set_postfix_str(text)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.bar is not None:
            self.bar.close()
        return False


def refuse_existing(out: str, paths) -> str | None:
    """The refusal to print when some of ``paths`` exist (six named at most), else None."""
    existing = [path for path in paths if os.path.exists(path)]
    if not existing:
        return None
    shown = ", ".join(os.path.basename(p) for p in existing[:6])
    more = f" and {len(existing) - 6} more" if len(existing) > 6 else ""
    return (
        f"{out!r} already holds {shown}{more}; pass --overwrite to replace them, --resume "
        "to finish an interrupted run, or choose another --out."
    )


def error(message: str, command: str) -> int:
    """Prints ``jaxgossip COMMAND: error: MESSAGE`` to stderr; returns the exit code 2."""
    print(f"jaxgossip {command}: error: {message}", file=sys.stderr)
    return 2


def interrupted(command: str, kept: str, again: list[str]) -> int:
    """Prints one line: what an interrupted command ``kept``, and the command to finish it.

    Returns the exit code 130; ``again`` is that command's arguments after ``jaxgossip``.
    """
    resume = " ".join(shlex.quote(a) for a in ("jaxgossip", *again))
    print(f"\njaxgossip {command}: interrupted; {kept}; to finish, run: {resume}", file=sys.stderr)
    return INTERRUPTED


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
