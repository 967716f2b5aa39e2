"""``jaxgossip run EXPERIMENT.toml``: every sweep of an experiment file, saved and summarized."""

from __future__ import annotations

import dataclasses
import os

from jaxgossip.cli.common import add_output_arguments, error, refuse_existing
from jaxgossip.cli.experiment import (
    ExperimentError,
    load_experiment,
    output_paths,
    run_experiment,
    summary_table,
)

NAME = "run"
HELP = "run an experiment file: sweeps over graphs, algorithms and hyperparameters"
DESCRIPTION = (
    "Runs every graph x algorithm sweep of an experiment TOML file (the schema is "
    "documented in jaxgossip/cli/experiment.py and the README), saves each as "
    "<graph>__<algorithm>.npz with a figure per graph and summary.txt, and prints "
    "the summary table. Nothing is overwritten without --overwrite."
)


def add_arguments(parser) -> None:
    """``jaxgossip run``'s arguments."""
    parser.add_argument("experiment", metavar="EXPERIMENT.toml", help="the experiment file")
    add_output_arguments(
        parser, default=None, help="output folder (default: [output] dir of the file)"
    )


def run_command(args) -> int:
    """Runs ``jaxgossip run``; returns the exit code (2 for a bad file or a refusal)."""
    try:
        experiment = load_experiment(args.experiment)
    except ExperimentError as exc:
        return error(str(exc), "run")
    except OSError as exc:
        return error(f"cannot read {args.experiment!r}: {exc.strerror or exc}", "run")
    if args.out is not None:
        experiment = dataclasses.replace(experiment, output_dir=args.out)
    out = experiment.output_dir
    if os.path.exists(out) and not os.path.isdir(out):
        return error(f"the output folder {out!r} exists and is not a folder.", "run")
    refusal = refuse_existing(out, output_paths(experiment))
    if refusal and not args.overwrite:
        return error(refusal, "run")
    print(f"jaxgossip run: {experiment.name} (compiling each sweep first) ...", flush=True)
    try:
        results = run_experiment(
            experiment,
            overwrite=args.overwrite,
            progress=lambda line: print(line, flush=True),
        )
    except ExperimentError as exc:
        return error(str(exc), "run")
    except FileExistsError as exc:  # written by someone else since the check above
        return error(str(exc), "run")
    print()
    print(summary_table(results, experiment.eps))
    print(f"\nresults saved in {os.path.abspath(out)}:")
    for path in output_paths(experiment):
        print(f"  {os.path.basename(path)}")
    return 0
