"""The command line: ``jaxgossip demo | run | plot | theory | compare | tradeoff``.

``demo`` runs the built-in experiment (``jaxgossip.cli.demo``); ``run`` runs an
experiment file (``jaxgossip.cli.experiment``); ``plot`` draws a saved sweep or
traces file; ``theory`` prints a graph's spectral constants and, with
``--kappa``, the predicted complexities and lower bounds (``jaxgossip.theory``);
``compare`` runs every registered algorithm on one setting
(``jaxgossip.study.compare``); ``tradeoff`` runs the computation/communication
trade-off explorer on a TOML file (``jaxgossip.cli.tradeoff``). Each command is
one module of ``jaxgossip.cli`` with ``NAME``, ``HELP``, ``DESCRIPTION``,
``add_arguments(parser)`` and ``run_command(args)``.

A usage error is one line on stderr and exit status 2; every option's help
ends with its default. ``--float64`` (where a command has it) turns on
``jax_enable_x64`` before the command creates any array.
"""

from __future__ import annotations

import argparse
import sys

from jaxgossip.cli import compare, demo, plot, run, theory, tradeoff
from jaxgossip.cli.common import HelpFormatter, Parser, float64

COMMANDS = (demo, run, plot, theory, compare, tradeoff)  # in the order --help lists them


def main(argv=None) -> int:
    """Runs the command line on ``argv`` (``sys.argv[1:]`` by default); returns the exit code."""
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra:  # reported by the command's parser, which names the command
            command = parser.commands.get(args.command, parser)
            command.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exit_:  # --help, or a usage error argparse has already reported
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    with float64(getattr(args, "float64", False)):
        return args.run(args)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; each sets ``run``, the function that runs it.

    ``parser.commands`` maps each command's name to its parser.
    """
    parser = Parser(
        prog="jaxgossip",
        description="Simulate asynchronous decentralized optimization with JAX.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        sub = commands.add_parser(
            command.NAME,
            help=command.HELP,
            description=command.DESCRIPTION,
            formatter_class=HelpFormatter,
        )
        command.add_arguments(sub)
        sub.set_defaults(run=command.run_command)
    parser.commands = commands.choices
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
