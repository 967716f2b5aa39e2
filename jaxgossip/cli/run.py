"""``jaxgossip run EXPERIMENT.toml``: every sweep of an experiment file, saved and summarized."""

from __future__ import annotations

import dataclasses
import os

from jaxgossip import distributed
from jaxgossip.cli.common import (
    add_float64_argument,
    add_output_arguments,
    add_resume_argument,
    error,
    float64,
    interrupted,
    progress_bar,
    refuse_existing,
)
from jaxgossip.cli.config import load_toml, parse_experiment, requests_float64
from jaxgossip.cli.experiment import ExperimentError, output_paths, run_experiment, summary_table
from jaxgossip.study.experiment import CHECKPOINTS

NAME = "run"
HELP = "run an experiment file: sweeps over graphs, algorithms and hyperparameters"
DESCRIPTION = (
    "Runs every graph x algorithm sweep of an experiment TOML file (the schema is "
    "documented in docs/reference/experiment_files.md), saves each as "
    "<graph>__<algorithm>.npz as soon as it ends, then a figure per graph and "
    "summary.txt, and prints the summary table. Nothing is overwritten without "
    "--overwrite. Interrupted (Ctrl-C), it keeps the finished sweeps; --resume "
    "then finishes the run."
)


def add_arguments(parser) -> None:
    """``jaxgossip run``'s arguments."""
    parser.add_argument("experiment", metavar="EXPERIMENT.toml", help="the experiment file")
    add_output_arguments(
        parser, default=None, help="output folder (default: [output] dir of the file)"
    )
    add_resume_argument(
        parser, "sweeps", ", continue a checkpointed one (num_chunks > 1) from its last chunk"
    )
    add_float64_argument(parser)


def run_command(args) -> int:
    """Runs ``jaxgossip run``; returns the exit code (2 for a bad file or a refusal, 130 on
    Ctrl-C)."""
    if args.resume and args.overwrite:
        return error("--resume keeps finished results and --overwrite replaces them; "
                     "pass one.", "run")  # fmt: skip
    try:  # first: joining other processes must come before any JAX computation
        distributed.initialize_from_env()
    except ValueError as exc:
        return error(str(exc), "run")
    try:
        config, context = load_toml(args.experiment)
    except ExperimentError as exc:
        return error(str(exc), "run")
    except OSError as exc:
        return error(f"cannot read {args.experiment!r}: {exc.strerror or exc}", "run")
    # Before the file is checked: checking builds the graphs, and every array is to be float64.
    with float64(args.float64 or requests_float64(config)):
        try:
            experiment = parse_experiment(config, **context)
        except ExperimentError as exc:
            return error(str(exc), "run")
        if args.float64:
            experiment = dataclasses.replace(experiment, precision="float64")
        if args.out is not None:
            experiment = dataclasses.replace(experiment, output_dir=args.out)
        return _run(experiment, args)


def _run(experiment, args) -> int:
    out = experiment.output_dir
    if os.path.exists(out) and not os.path.isdir(out):
        return error(f"the output folder {out!r} exists and is not a folder.", "run")
    refusal = refuse_existing(out, output_paths(experiment))
    if refusal and not (args.overwrite or args.resume):
        return error(refusal, "run")
    pairs = [(g, a) for g in experiment.graphs for a in experiment.algorithms]
    if not distributed.is_writer():  # one of several processes: process 0 reports and writes
        return _run_quietly(experiment, args)
    print(f"jaxgossip run: {experiment.name} (compiling each sweep first) ...", flush=True)
    bar, saved = progress_bar(len(pairs), "sweep", experiment.name), []

    def on_sweep(name, ds):
        saved.append(name)
        bar.update()

    try:
        with bar:
            results = run_experiment(
                experiment,
                overwrite=args.overwrite,
                resume=args.resume,
                progress=bar.write,
                on_sweep=on_sweep,
            )
    except KeyboardInterrupt:
        kept = f"saved {len(saved)} of {len(pairs)} sweeps in {out}"
        checkpoints = os.path.join(out, CHECKPOINTS)
        if os.path.isdir(checkpoints) and os.listdir(checkpoints):
            kept += f", and the running sweep's finished chunks in {checkpoints}"
        again = ["run", args.experiment, "--out", out, "--resume"]
        return interrupted("run", kept, again + ["--float64"] * args.float64)
    except (ExperimentError, FileExistsError) as exc:  # FileExistsError: written meanwhile
        return error(str(exc), "run")
    print()
    print(summary_table(results, experiment.eps, experiment.metric))
    print(f"\nresults saved in {os.path.abspath(out)}:")
    for path in output_paths(experiment):
        print(f"  {os.path.basename(path)}")
    return 0


def _run_quietly(experiment, args) -> int:
    """Runs the sweeps as a process other than 0 of a multi-process run: no output, no files."""
    try:
        run_experiment(experiment, overwrite=args.overwrite, resume=args.resume)
    except KeyboardInterrupt:
        return 130
    except (ExperimentError, FileExistsError) as exc:
        return error(str(exc), "run")
    return 0
