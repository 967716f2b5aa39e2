"""jaxgossip: simulate asynchronous decentralized optimization with JAX.

A network of workers, each holding a local L-smooth, mu-strongly convex
function, computes gradients and exchanges messages along graph edges when
their Poisson clocks ring. The flow is graph + clocks -> events,
problem + algorithm -> state, and ``simulate`` applies the events to the state
(``simulate_rounds`` runs the synchronous methods round by round on a gossip
matrix). The package is laid out in that order: ``network``, ``problems``,
``algorithms``, ``engine``, ``theory``, ``io``, ``study``, ``plot``, ``cli``
(docs/architecture.md).
"""

from jaxgossip import algorithms, distributed, io, plot, problems, synchronous, testing, theory
from jaxgossip.cli import experiment
from jaxgossip.cli.experiment import ExperimentError, load_experiment, run_experiment
from jaxgossip.engine import long_run, time_varying
from jaxgossip.engine.events import init_state, simulate, split_key
from jaxgossip.engine.long_run import simulate_in_chunks
from jaxgossip.engine.rounds import simulate_rounds
from jaxgossip.engine.time_varying import simulate_time_varying, union_clocks
from jaxgossip.engine.trace import Trace
from jaxgossip.io import load_traces, save_traces
from jaxgossip.network import clocks, digraphs, graphs, mixing, spectral
from jaxgossip.network.clocks import COMMUNICATE, COMPUTE, Clocks, Events, sample_events
from jaxgossip.network.graphs import Graph
from jaxgossip.network.mixing import Mixing, TimeVaryingMixing, metropolis_mixing
from jaxgossip.plot import plot_convergence
from jaxgossip.problems import datasets
from jaxgossip.study import tradeoff
from jaxgossip.study.analysis import (
    PrecisionWarning,
    best,
    check_precision,
    divergence_summary,
    over_seeds,
    to_reach,
)
from jaxgossip.study.sweep import load_sweep, save_sweep, sweep, to_dataframe
from jaxgossip.version import VERSION

__version__ = VERSION

__all__ = [
    "COMMUNICATE",
    "COMPUTE",
    "Clocks",
    "Events",
    "ExperimentError",
    "Graph",
    "Mixing",
    "clocks",
    "long_run",
    "synchronous",
    "time_varying",
    "TimeVaryingMixing",
    "metropolis_mixing",
    "mixing",
    "simulate_rounds",
    "spectral",
    "Trace",
    "algorithms",
    "best",
    "check_precision",
    "PrecisionWarning",
    "datasets",
    "digraphs",
    "distributed",
    "experiment",
    "divergence_summary",
    "load_experiment",
    "load_sweep",
    "over_seeds",
    "save_sweep",
    "sweep",
    "to_dataframe",
    "to_reach",
    "graphs",
    "init_state",
    "io",
    "load_traces",
    "plot",
    "plot_convergence",
    "problems",
    "run_experiment",
    "sample_events",
    "save_traces",
    "simulate",
    "simulate_in_chunks",
    "simulate_time_varying",
    "split_key",
    "testing",
    "theory",
    "tradeoff",
    "union_clocks",
]
