"""jaxgossip: simulate asynchronous decentralized optimization with JAX.

A network of workers, each holding a local L-smooth, mu-strongly convex
function, computes gradients and exchanges messages along graph edges when
their Poisson clocks ring. The flow is graph + clocks -> events,
problem + algorithm -> state, and ``simulate`` applies the events to the state.
"""

from jaxgossip import algorithms, graphs, problems
from jaxgossip.clocks import COMMUNICATE, COMPUTE, Clocks, Events, sample_events
from jaxgossip.graphs import Graph
from jaxgossip.simulate import Trace, simulate, split_key

__version__ = "0.1.0"

__all__ = [
    "COMMUNICATE",
    "COMPUTE",
    "Clocks",
    "Events",
    "Graph",
    "Trace",
    "algorithms",
    "graphs",
    "problems",
    "sample_events",
    "simulate",
    "split_key",
]
