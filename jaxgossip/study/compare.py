"""Every registered algorithm on one problem and graph, on equal footing.

Each algorithm runs with its ``from_theory`` configuration over the same
seeds (one vmapped call per algorithm); the table reports the computations and
communications each needs until the median over seeds of f(x̄) − f* reaches eps.
Asynchronous methods count events; synchronous ones count per round as
``COUNTING`` states (their own papers' conventions).
"""

from __future__ import annotations

import jax
import numpy as np

from jaxgossip.algorithms.registry import COUNTING, METHODS
from jaxgossip.engine.events import BATCHED_SCHEDULE, simulate
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.engine.trace import Trace
from jaxgossip.network.mixing import metropolis_mixing
from jaxgossip.study.analysis import reach_position, value_at
from jaxgossip.study.table import format_table


def classes(engine: str) -> dict[str, type]:
    """Name -> class of the registered methods that run on ``engine`` ("events" or "rounds")."""
    return {m.name: m.cls for m in METHODS.values() if m.engine == engine}


def groups(traces: dict[str, Trace]) -> dict[str, dict[str, Trace]]:
    """The traces by counting convention: ``COUNTING`` key -> {name: trace}, none empty.

    Costs are compared only within a group: each counts as its own papers do.
    """
    grouped = {group: {} for group in COUNTING}
    for name, trace in traces.items():
        grouped[METHODS[name].counting][name] = trace
    return {group: named for group, named in grouped.items() if named}


def run_all(
    problem,
    clocks,
    *,
    names=None,
    num_events: int,
    num_records: int,
    num_seeds: int = 4,
    x0=None,
) -> tuple[dict[str, Trace], dict[str, str]]:
    """Runs each named algorithm's ``from_theory`` configuration over seeds 0..S-1.

    Args:
      problem, clocks: the setting shared by every algorithm.
      names: registry names; all but ``gossip`` (which does not optimize) by default.
      num_events, num_records, x0: as for ``simulate``.
      num_seeds: seeds per algorithm, vmapped.

    Returns:
      (traces, skipped): label -> batched ``Trace`` (leading seed axis), and
      name -> reason for algorithms that cannot run on this problem (e.g. the
      dual method needs conjugate gradients).
    """
    registry = classes("events")
    names = [n for n in registry if n != "gossip"] if names is None else list(names)

    def run(key, algorithm):
        return simulate(
            key,
            algorithm,
            problem,
            clocks,
            num_events=num_events,
            num_records=num_records,
            x0=x0,
            schedule=BATCHED_SCHEDULE,  # the seeds run vmapped together
        )

    return _run_registered(registry, names, (problem, clocks), run, num_seeds)


def run_all_rounds(
    problem, graph, *, names=None, num_rounds: int, num_records: int, num_seeds: int = 4, x0=None
) -> tuple[dict[str, Trace], dict[str, str]]:
    """Runs each synchronous method's ``from_theory`` configuration (Metropolis gossip).

    Same returns as ``run_all``; labels are the ``SYNC_REGISTRY`` names.
    """
    registry = classes("rounds")
    names = list(registry) if names is None else list(names)
    mixing = metropolis_mixing(graph)

    def run(key, algorithm):
        return simulate_rounds(
            key, algorithm, problem, mixing, num_rounds=num_rounds, num_records=num_records, x0=x0
        )

    return _run_registered(registry, names, (problem, mixing), run, num_seeds)


def _run_registered(registry, names, setting, run, num_seeds):
    """``from_theory(*setting)`` of each name, run over seeds 0..S-1 in one vmapped call."""
    keys = jax.random.split(jax.random.key(0), num_seeds)
    traces, skipped = {}, {}
    for name in names:
        try:
            algorithm = registry[name].from_theory(*setting)
        except (TypeError, ValueError) as error:
            skipped[name] = str(error)
            continue
        traces[name] = jax.jit(jax.vmap(lambda k, algorithm=algorithm: run(k, algorithm)))(keys)
    return traces, skipped


def to_reach_table(traces: dict[str, Trace], eps: float) -> list[dict]:
    """Per algorithm: computations, communications and time until median f(x̄) − f* <= eps.

    The median over seeds of the suboptimality is read per record; counts are
    the medians over seeds, interpolated between records
    (``jaxgossip.study.analysis.reach_position``). The row's ``num_computations``,
    ``num_communications`` and ``time`` are where the median stays <= eps to the
    end of the run (sustained); ``first_hit`` holds the same three where it
    first touches eps. None where never reached.
    """
    rows = []
    for name, trace in traces.items():
        records = trace.time.shape[-1]
        suboptimality = np.asarray(trace.suboptimality).reshape(-1, records)
        # A diverged run (non-finite values) counts as +inf: it pushes the median up.
        median = np.median(np.where(np.isfinite(suboptimality), suboptimality, np.inf), 0)
        diverged = np.asarray(trace.diverged).reshape(-1, records)[:, -1]
        row = dict(
            algorithm=name,
            final=float(median[-1]),
            diverged=int(diverged.sum()),
            runs=diverged.size,
            first_hit={},
        )
        fields = ("num_computations", "num_communications", "time")
        counts = {
            f: np.median(np.asarray(getattr(trace, f)).reshape(-1, records), 0) for f in fields
        }
        for criterion, out in (("sustained", row), ("first", row["first_hit"])):
            position = reach_position(median, eps, criterion)
            for field in fields:
                value = value_at(counts[field], position)
                out[field] = None if np.isnan(value) else float(value)
        rows.append(row)
    return rows


def format_rows(rows: list[dict], eps: float, *, time_label: str = "time") -> str:
    """A plain-text table of ``to_reach_table``'s rows (``time_label``: "rounds" for rounds)."""
    header = (
        "algorithm",
        "computations",
        "communications",
        time_label,
        "first hit (computations)",
        "final f(x̄) − f*",
    )
    body = []
    for row in rows:

        def count(field, row=row):
            value = row[field]
            return "not reached" if value is None else f"{value:,.0f}"

        body.append(
            (
                row["algorithm"],
                count("num_computations"),
                count("num_communications"),
                "not reached" if row["time"] is None else f"{row['time']:,.1f}",
                count("num_computations", row["first_hit"]),
                f"diverged ({row['diverged']}/{row['runs']})"
                if row["diverged"]
                else f"{row['final']:.2e}",
            )
        )
    title = (
        f"to reach f(x̄) − f* <= {eps:g} and stay there (medians over seeds, interpolated "
        "between records); first hit: when it first touches eps"
    )
    return title + "\n" + format_table(header, body, left=0)
