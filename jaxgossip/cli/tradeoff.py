"""``jaxgossip tradeoff CONFIG``: the computation/communication trade-off from a TOML file.

For each graph, ``jaxgossip.study.tradeoff.explore`` runs every algorithm (its
``from_theory`` configuration, or the hyperparameters its table gives) at every
rate ratio (communications per computation) until the target is reached
(f(x̄) − f* <= eps, or e.g. test_accuracy >= eps on a learning problem); the
command prints the medians over seeds of the computations, communications and
simulated time to reach it, the best
ratio under each cost model, and saves per graph the Dataset
``<graph>__tradeoff.npz`` (``jaxgossip.study.sweep.load_sweep`` reads it), the
figures ``<graph>__frontier.png`` (``plot_frontier``) and ``<graph>__cost.png``
(``plot_cost``, one subplot per cost model), and ``summary.txt``, the printed
tables. Nothing is overwritten without ``--overwrite``.

Each graph x algorithm pair is one ``explore`` call, saved under
``<out>/.checkpoints/`` as soon as it ends: interrupted (Ctrl-C), the command
keeps the finished pairs, and ``--resume`` runs only the others (a pair's
results do not depend on the other algorithms').

Schema (every key is checked as in experiment files: an unknown key is an
error naming the file and the key path, with the closest valid key)::

    name = "frontier"       # default: the file name without .toml
    seed = 0                # key of the problem, the data split and random graphs
    seeds = 4               # runs per algorithm and ratio
    metric = "suboptimality"    # the target's metric: default suboptimality, f(x̄) − f*
                                #   (convex problems) or test_accuracy (supervised); any
                                #   metric the problem records (test_loss, ...)
    eps = 1e-4              # its target value: reached at metric <= eps for a metric to
                            #   minimize, >= eps for an accuracy (default 1e-4 for convex
                            #   problems; required for supervised ones)
    ratios = [0.1, 1, 10]   # communications per computation, distinct and > 0
    events_per_chunk = 20000    # runs advance chunk by chunk until eps or max_chunks
    records_per_chunk = 20      # must divide events_per_chunk
    max_chunks = 40
    algorithms = ["async_gossip_sgd", "dadao", "a2cid2"]  # REGISTRY names, from_theory
    # or [[algorithms]] tables, as in experiment files but without grid and
    # relative_to_theory: name, label, fixed hyperparameters (the others from
    # from_theory at each ratio's clocks), an optional [algorithms.optimizer]; a
    # learning problem has no from_theory, so its methods need tables that give
    # every hyperparameter:
    #   [[algorithms]]
    #   name = "async_gossip_sgd"
    #   optimizer = { name = "sgd", learning_rate = 0.05, momentum = 0.9 }
    costs = [[1.0, 0.1], [1.0, 1.0]]  # (c_grad, c_comm): cost = c_grad·computations
                                      #   + c_comm·communications (default [[1, 1]])
    precision = "float32"   # or "float64" (for eps below float32's resolution; also
                            #   --float64); `float64 = true` is the older spelling

    [problem]               # as in experiment files (jaxgossip/cli/experiment.py),
    kind = "quadratic"      #   kind = "supervised" too (no theory lower bounds then)
    num_nodes = 16
    dim = 8

    [graph]                 # or several [[graphs]] with distinct labels, as in
    kind = "ring"           #   experiment files

    [output]
    dir = "results/frontier"    # default results/<name>

Defaults of the rest: seeds 4, eps 1e-4, ratios [0.1, 0.3, 1, 3, 10, 30, 100],
events_per_chunk 20000, records_per_chunk 20, max_chunks 40; ``algorithms`` is
required.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import os
import time
import warnings
import zipfile

import jax
import numpy as np
import xarray as xr

from jaxgossip.algorithms.base import TheoryConditionWarning
from jaxgossip.algorithms.registry import REGISTRY
from jaxgossip.cli.common import (
    add_float64_argument,
    add_output_arguments,
    add_resume_argument,
    check_outputs,
    error,
    float64,
    interrupted,
    progress_bar,
    refuse_existing,
)
from jaxgossip.cli.config import (
    Table,
    load_toml,
    name_and_seed,
    read_algorithm,
    read_graphs,
    read_precision,
    read_problem,
    read_target,
    requests_float64,
    unknown,
)
from jaxgossip.io import atomic_write
from jaxgossip.plot import format_eps, plot_cost, plot_frontier
from jaxgossip.study.build import build_graph, build_problem, configure_algorithm
from jaxgossip.study.experiment import CHECKPOINTS, current_precision
from jaxgossip.study.spec import AlgorithmSpec, ExperimentError, ProblemSpec
from jaxgossip.study.sweep import load_sweep, save_sweep
from jaxgossip.study.table import format_table
from jaxgossip.study.tradeoff import best_ratios, explore, medians, rate_ratio_clocks

_TOP = (
    "name",
    "seed",
    "seeds",
    "metric",
    "eps",
    "ratios",
    "events_per_chunk",
    "records_per_chunk",
    "max_chunks",
    "algorithms",
    "costs",
    "float64",
    "precision",
    "problem",
    "graph",
    "graphs",
    "output",
)
DEFAULT_RATIOS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


@dataclasses.dataclass(frozen=True)
class TradeoffConfig:
    """A checked trade-off file; ``build_problem``/``build_graph`` accept it as an experiment."""

    file: str
    name: str
    seed: int
    seeds: int
    eps: float
    ratios: tuple  # of float, as written
    events_per_chunk: int
    records_per_chunk: int
    max_chunks: int
    algorithms: tuple  # of AlgorithmSpec; a name alone gives one with nothing fixed
    costs: tuple  # of (c_grad, c_comm)
    float64: bool
    problem: ProblemSpec
    graphs: tuple  # of GraphSpec
    output_dir: str
    config: dict | None = None  # the file as parsed, stored with the results (for --resume)
    metric: str = "suboptimality"  # what eps is the target value of


def load_config(path) -> TradeoffConfig:
    """Reads and checks a trade-off file.

    Raises:
      FileNotFoundError: no such file.
      ExperimentError: invalid TOML, or a key that does not follow the schema.
    """
    config, context = load_toml(path)
    return parse_config(config, **context)


def parse_config(
    config: dict, *, file: str = "<tradeoff>", base_dir=".", name: str = "tradeoff"
) -> TradeoffConfig:
    """Checks a parsed trade-off file (the dict ``tomllib`` returns); see the module docstring."""
    top = Table(file, "", config)
    top.done(valid=_TOP)  # a misspelt table name first: it explains what seems missing
    name, seed = name_and_seed(top, name)
    counts = {}
    for key, default in (
        ("seeds", 4),
        ("events_per_chunk", 20_000),
        ("records_per_chunk", 20),
        ("max_chunks", 40),
    ):
        counts[key] = top.get(key, int, default)
        if counts[key] < 1:
            raise top.error(key, f"expected an integer >= 1, got {counts[key]}")
    if counts["events_per_chunk"] % counts["records_per_chunk"]:
        raise top.error(
            "events_per_chunk",
            f"expected a multiple of records_per_chunk = {counts['records_per_chunk']}, "
            f"got {counts['events_per_chunk']}",
        )
    ratios = _ratios(top)
    algorithms = _algorithms(top)
    costs = _costs(top)
    precision = read_precision(top)
    float64 = top.get("float64", bool, precision == "float64")
    if "precision" in top.data and float64 != (precision == "float64"):
        raise top.error("float64", f"contradicts precision = {precision!r}; keep precision")
    problem = read_problem(top.table("problem"), os.fspath(base_dir))
    metric, eps = read_target(top, problem, default_eps=1e-4)
    graphs = read_graphs(top, problem, seed)
    output = top.table("output", required=False)
    output_dir = output.get("dir", str, os.path.join("results", name))
    output.done()
    top.done()
    return TradeoffConfig(
        file=file,
        name=name,
        seed=seed,
        eps=eps,
        ratios=ratios,
        algorithms=algorithms,
        costs=costs,
        float64=float64,
        problem=problem,
        graphs=graphs,
        output_dir=output_dir,
        config=config,
        metric=metric,
        **counts,
    )


def _array(top: Table, key: str, default):
    top.read.add(key)
    value = top.data.get(key, default)
    if not isinstance(value, list) or not value:
        raise top.error(key, f"expected a non-empty array, got {value!r}")
    return value


def _ratios(top: Table) -> tuple:
    values = _array(top, "ratios", list(DEFAULT_RATIOS))
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise top.error("ratios", f"expected an array of numbers, got {value!r}")
        if not (0 < value < math.inf):
            raise top.error("ratios", f"expected ratios > 0 and finite, got {value}")
    if len(set(values)) != len(values):
        raise top.error("ratios", f"expected distinct ratios, got {values}")
    return tuple(float(v) for v in values)


def _algorithms(top: Table) -> tuple:
    """``algorithms``: names of ``REGISTRY`` (``from_theory``) or [[algorithms]] tables."""
    if "algorithms" not in top.data:
        raise top.error("algorithms", "missing; expected an array of algorithm names")
    entries = _array(top, "algorithms", None)
    specs, labels = [], {}
    for k, entry in enumerate(entries):
        key = f"algorithms[{k}]"
        if isinstance(entry, dict):
            spec = read_algorithm(Table(top.file, key, entry), labels, grid=False)
        elif isinstance(entry, str):
            if entry not in REGISTRY:
                raise top.error(key, unknown("algorithm", entry, sorted(REGISTRY)))
            if entry in labels:
                raise top.error("algorithms", f"expected distinct names, got {entry!r} twice")
            labels[entry] = key
            spec = AlgorithmSpec(entry, entry, {}, {}, False, key)
        else:
            raise top.error(key, f"expected an algorithm name or a table, got {entry!r}")
        if spec.name not in REGISTRY:
            raise top.error(
                key,
                f"{spec.name} is synchronous; trade-off files explore asynchronous methods, "
                f"whose clocks set the ratio ({', '.join(sorted(REGISTRY))})",
            )
        specs.append(spec)
    return tuple(specs)


def _costs(top: Table) -> tuple:
    pairs = _array(top, "costs", [[1.0, 1.0]])
    checked = []
    for k, pair in enumerate(pairs):
        numbers = isinstance(pair, list) and all(
            isinstance(c, (int, float)) and not isinstance(c, bool) for c in pair
        )
        if not numbers or len(pair) != 2:
            raise top.error(f"costs[{k}]", f"expected a pair [c_grad, c_comm], got {pair!r}")
        if not all(0 <= c < math.inf for c in pair) or not any(pair):
            raise top.error(
                f"costs[{k}]", f"expected prices >= 0 and finite, not both 0, got {pair}"
            )
        checked.append((float(pair[0]), float(pair[1])))
    return tuple(checked)


# --- running ------------------------------------------------------------------------


def output_paths(config: TradeoffConfig) -> list[str]:
    """Every file ``run_config`` writes, in ``config.output_dir``."""
    names = [
        f"{g.label}__{suffix}"
        for g in config.graphs
        for suffix in ("tradeoff.npz", "frontier.png", "cost.png")
    ]
    return [os.path.join(config.output_dir, name) for name in (*names, "summary.txt")]


def run_config(
    config: TradeoffConfig,
    *,
    overwrite: bool = False,
    resume: bool = False,
    progress=print,
    on_pair=None,
) -> dict:
    """Explores every graph of ``config``, saves datasets, figures and summary.txt.

    Each graph x algorithm pair is one ``explore`` call, saved to
    ``<out>/.checkpoints/<graph>__<algorithm>.npz`` as it ends; once a graph's
    pairs are done they are joined into ``<graph>__tradeoff.npz`` (the same
    Dataset one call with every algorithm gives) and the pair files removed.

    Args:
      overwrite: replace existing output files.
      resume: finish an interrupted run of the same file: keep the graphs and
        pairs whose results are saved, run the others, draw the figures anew.
      progress: called with a line of text per graph; None: silent.
      on_pair: called with ``(graph label, algorithm)`` as each pair is done or kept.

    Returns:
      graph label -> the explorer's Dataset, in run order.

    Raises:
      FileExistsError: an output file exists and neither ``overwrite`` nor
        ``resume`` is set (before anything runs), or with ``resume`` a saved
        file holds another file's results.
      ExperimentError: the problem or a graph cannot be built.
    """
    # float64 = false leaves the precision as it is (a caller may have enabled x64).
    with jax.enable_x64(True) if config.float64 else contextlib.nullcontext():
        return _run_config(
            config,
            overwrite=overwrite,
            resume=resume,
            progress=progress or (lambda line: None),
            on_pair=on_pair or (lambda graph, algorithm: None),
        )


def _run_config(config: TradeoffConfig, *, overwrite: bool, resume: bool, progress, on_pair):
    out = config.output_dir
    check_outputs(
        out,
        output_paths(config),
        overwrite or resume,
        prefix="",
        replace_hint="pass --overwrite to replace them, --resume to finish an interrupted "
        "run, or choose another --out.",
    )
    problem = build_problem(config)
    graphs = [(spec, build_graph(config, spec)) for spec in config.graphs]
    factories = {a.label: _factory(config, a) for a in config.algorithms}
    # Built once at the first ratio before anything runs: a method that cannot be
    # configured (from_theory on a learning problem) fails here, not after other pairs.
    clocks = rate_ratio_clocks(graphs[0][1], config.ratios[0])
    for a in config.algorithms:
        with warnings.catch_warnings():  # explore reports theory's conditions, once per pair
            warnings.simplefilter("ignore", TheoryConditionWarning)
            _check_factory(config, a, factories[a.label], problem, clocks)
    os.makedirs(out, exist_ok=True)
    results, tables = {}, []
    for k, (spec, graph) in enumerate(graphs):
        base = os.path.join(out, spec.label)
        ds = _finished(f"{base}__tradeoff.npz", config) if resume else None
        if ds is not None:
            progress(f"[{k + 1}/{len(graphs)}] {spec.label}: finished already, kept")
            for a in config.algorithms:
                on_pair(spec.label, a.label)
        else:
            progress(
                f"[{k + 1}/{len(graphs)}] {spec.label}: {len(config.algorithms)} algorithm(s) "
                f"x {len(config.ratios)} ratio(s) x {config.seeds} seed(s), up to "
                f"{config.max_chunks} x {config.events_per_chunk:,} events"
            )
            start = time.perf_counter()
            parts = []
            for a in config.algorithms:
                factory = factories[a.label]
                parts.append(_run_pair(config, problem, spec, graph, a.label, factory, resume))
                on_pair(spec.label, a.label)
            ds = _join(parts)
            progress(f"    {time.perf_counter() - start:.1f} s")
        # Every figure is drawn before anything of this graph is written: a figure that
        # fails then leaves no partial results behind.
        pictures = {
            "frontier": _png(plot_frontier(ds)),
            "cost": _png(plot_cost(ds, costs=config.costs)),
        }
        save_sweep(f"{base}__tradeoff.npz", ds, overwrite=overwrite or resume)
        for suffix, picture in pictures.items():
            atomic_write(
                f"{base}__{suffix}.png",
                lambda f, picture=picture: f.write(picture),
                overwrite=overwrite or resume,
            )
        _remove_pairs(config, spec.label)
        tables.append(summary_table(ds, config.costs))
        results[spec.label] = ds
    text = "\n\n".join(tables)
    atomic_write(
        os.path.join(out, "summary.txt"),
        lambda f: f.write((text + "\n").encode("utf-8")),
        overwrite=overwrite or resume,
    )
    return results


def pair_path(config: TradeoffConfig, graph: str, algorithm: str) -> str:
    """Where one graph x algorithm pair is kept until its graph's results are saved."""
    return os.path.join(config.output_dir, CHECKPOINTS, f"{graph}__{algorithm}.npz")


def _factory(config: TradeoffConfig, spec: AlgorithmSpec):
    """What ``explore`` builds the method with at each ratio: its name (``from_theory``)
    when the file gave only the name, else ``(problem, clocks) -> the configured method``."""
    if not spec.fixed and spec.optimizer is None and spec.label == spec.name:
        return spec.name

    def build(problem, clocks):
        return configure_algorithm(config, spec, problem, clocks)[0]()

    return build


def _check_factory(config, spec: AlgorithmSpec, factory, problem, clocks) -> None:
    """Raises ``ExperimentError`` when the method cannot be built for ``problem``."""
    if not isinstance(factory, str):
        factory(problem, clocks)  # configure_algorithm's errors name the table
        return
    try:
        REGISTRY[factory].from_theory(problem, clocks)
    except ValueError as error:
        hint = ""
        if not problem.convex:
            hint = (
                " In a trade-off file, give it as an [[algorithms]] table with its "
                'hyperparameters (e.g. name = "async_gossip_sgd", step_size = 0.05).'
            )
        raise ExperimentError(
            config.file, spec.key_path, f"{spec.name}.from_theory: {error}{hint}"
        ) from None


def _run_pair(config, problem, spec, graph, label: str, factory, resume: bool):
    path = pair_path(config, spec.label, label)
    ds = _finished(path, config) if resume else None
    if ds is not None:
        return ds
    ds = explore(
        problem,
        graph,
        {label: factory},
        ratios=list(config.ratios),
        eps=config.eps,
        metric=config.metric,
        seeds=config.seeds,
        events_per_chunk=config.events_per_chunk,
        records_per_chunk=config.records_per_chunk,
        max_chunks=config.max_chunks,
        graph_name=spec.label,
    )
    ds.attrs.update(
        graph_kind=spec.kind,
        tradeoff=config.name,
        tradeoff_config=json.dumps(config.config, default=str),
        precision=current_precision(),
    )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_sweep(path, ds, overwrite=True)
    return ds


def _join(parts: list) -> xr.Dataset:
    """One Dataset of the pairs of a graph, along "algorithm", as one ``explore`` call gives."""
    ds = xr.concat(
        parts,
        dim="algorithm",
        data_vars="all",
        coords="minimal",
        compat="override",
        join="exact",
        combine_attrs="override",
    )
    ds.attrs["compilations"] = int(sum(int(p.attrs.get("compilations", 0)) for p in parts))
    return ds


def _finished(path: str, config: TradeoffConfig):
    """The Dataset in ``path`` if it holds this file's results at this precision; None if
    absent or unreadable (it is then run again).

    Raises:
      FileExistsError: ``path`` holds another file's (or precision's) results.
    """
    if not os.path.exists(path):
        return None
    try:
        ds = load_sweep(path)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None
    same = json.loads(ds.attrs.get("tradeoff_config", "null")) == json.loads(
        json.dumps(config.config, default=str)
    )
    if not same or ds.attrs.get("precision") != current_precision():
        raise FileExistsError(
            f"{path!r} holds the results of another trade-off file or precision, which "
            "--resume cannot continue; pass --overwrite to replace it, or choose another --out."
        )
    return ds


def _remove_pairs(config: TradeoffConfig, graph: str) -> None:
    for a in config.algorithms:
        with contextlib.suppress(FileNotFoundError):
            os.remove(pair_path(config, graph, a.label))
    folder = os.path.join(config.output_dir, CHECKPOINTS)
    if os.path.isdir(folder) and not os.listdir(folder):
        os.rmdir(folder)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()


def summary_table(ds, costs=((1.0, 1.0),)) -> str:
    """The explorer's results as text: medians to eps per algorithm x ratio, best ratios.

    Counts are medians over seeds (``jaxgossip.study.tradeoff.medians``), "not
    reached" where at least half the seeds did not reach eps; the best ratio of each cost model
    comes from ``jaxgossip.study.tradeoff.best_ratios``.
    """
    med = medians(ds)
    attrs = ds.attrs
    num_seeds = ds.sizes["seed"]
    header = ("algorithm", "ratio", "reached", "computations", "communications", "time")
    rows = []
    for label in ds["algorithm"].values:
        for ratio in np.sort(ds["ratio"].values):
            point = dict(algorithm=label, ratio=ratio)
            reached = int(np.sum(np.isfinite(ds["computations"].sel(point).values)))
            diverged = int(np.sum(ds["diverged"].sel(point).values))
            computations = float(med["computations"].sel(point))
            counts = (
                (
                    _number(computations, "{:,.0f}"),
                    _number(med["communications"].sel(point), "{:,.0f}"),
                    _number(med["time"].sel(point), "{:,.4g}"),
                )
                if np.isfinite(computations)
                else ("not reached", "-", "-")
            )
            rows.append(
                (
                    str(label),
                    f"{ratio:g}",
                    f"{reached}/{num_seeds}" + (f" ({diverged} diverged)" if diverged else ""),
                    *counts,
                )
            )
    sizes = f"{attrs.get('num_nodes', '?')} nodes, {attrs.get('num_edges', '?')} edges"
    metric = attrs.get("metric", "suboptimality")
    name = "f(x̄) − f*" if metric == "suboptimality" else metric
    relation = ">=" if attrs.get("goal", "min") == "max" else "<="
    lines = [
        f"{attrs.get('graph', 'graph')} ({sizes}): to reach {name} {relation} "
        f"{format_eps(attrs.get('eps', math.nan))}, medians over {num_seeds} seeds (not "
        "reached: by at most half of them); ratio = communications per computation",
        format_table(header, rows),
    ]
    if not np.isfinite(float(attrs.get("lower_computations", 0.0))):
        lines.append(f"lower bounds: {attrs.get('bound_source', 'none')}")
    elif "lower_computations" in attrs:
        lines.append(
            f"lower bounds ({attrs.get('bound_source', '?')}), up to constants: "
            f"computations >= {float(attrs['lower_computations']):,.4g}, "
            f"communications >= {float(attrs.get('lower_communications', math.nan)):,.4g}"
        )
    header = ("cost model", *map(str, ds["algorithm"].values))
    rows = []
    for c_grad, c_comm in costs:
        best = best_ratios(ds, c_grad=c_grad, c_comm=c_comm)
        cells = []
        for label in ds["algorithm"].values:
            ratio, cost = best.get(str(label), (None, None))
            if ratio is None or not np.isfinite(ratio) or not np.isfinite(cost):
                cells.append("not reached")
            else:
                cells.append(f"ratio {ratio:g}, cost {cost:,.4g}")
        rows.append((f"{c_grad:g}·computations + {c_comm:g}·communications", *cells))
    lines += ["", "best ratio (median cost over seeds) under each cost model:"]
    lines.append(format_table(header, rows))
    return "\n".join(lines)


def _number(value, form: str) -> str:
    value = float(value)
    return form.format(value) if np.isfinite(value) else "-"


# --- the command --------------------------------------------------------------------


NAME = "tradeoff"
HELP = "computations vs communications to reach eps across rate ratios, from a TOML file"
DESCRIPTION = __doc__


def add_arguments(parser) -> None:
    """The arguments of ``jaxgossip tradeoff``."""
    parser.add_argument("config", metavar="CONFIG.toml", help="the trade-off file")
    add_output_arguments(
        parser, default=None, help="output folder (default: [output] dir of the file)"
    )
    add_resume_argument(parser, "graph x algorithm pairs")
    add_float64_argument(parser)


def run_command(args) -> int:
    """Runs ``jaxgossip tradeoff``; returns the exit code (2 for a bad file or refusal, 130
    on Ctrl-C)."""
    if args.resume and args.overwrite:
        return error(
            "--resume keeps finished results and --overwrite replaces them; pass one.",
            "tradeoff",
        )
    try:
        raw, context = load_toml(args.config)
    except (OSError, ExperimentError) as exc:
        return error(str(exc), "tradeoff")
    # Before the file is checked: checking builds the graphs, and every array is to be float64.
    with float64(args.float64 or requests_float64(raw)):
        try:
            config = parse_config(raw, **context)
        except ExperimentError as exc:
            return error(str(exc), "tradeoff")
        if args.float64:
            config = dataclasses.replace(config, float64=True)
        if args.out is not None:
            config = dataclasses.replace(config, output_dir=args.out)
        return _run(config, args)


def _run(config: TradeoffConfig, args) -> int:
    refusal = refuse_existing(config.output_dir, output_paths(config))
    if refusal and not (args.overwrite or args.resume):  # before anything runs; checked again
        return error(refusal, "tradeoff")
    print(f"jaxgossip tradeoff: {config.name} (each pair compiles first) ...", flush=True)
    total = len(config.graphs) * len(config.algorithms)
    bar, done = progress_bar(total, "pair", config.name), []

    def on_pair(graph, algorithm):
        done.append((graph, algorithm))
        bar.set_postfix_str(f"{graph} x {algorithm}")
        bar.update()

    try:
        with bar:
            results = run_config(
                config,
                overwrite=args.overwrite,
                resume=args.resume,
                progress=bar.write,
                on_pair=on_pair,
            )
    except KeyboardInterrupt:
        kept = f"saved {len(done)} of {total} graph x algorithm pairs in {config.output_dir}"
        again = ["tradeoff", args.config, "--out", config.output_dir, "--resume"]
        return interrupted("tradeoff", kept, again + ["--float64"] * args.float64)
    except (FileExistsError, ExperimentError) as exc:
        return error(str(exc), "tradeoff")
    print()
    for ds in results.values():
        print(summary_table(ds, config.costs), end="\n\n")
    print(f"results saved in {os.path.abspath(config.output_dir)}:")
    for path in output_paths(config):
        print(f"  {path}")
    return 0
