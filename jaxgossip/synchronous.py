"""Compatibility alias: the names ``jaxgossip.synchronous`` held before the layout of 0.2.

The round engine is now ``jaxgossip.engine.rounds``, gossip matrices are
``jaxgossip.network.mixing`` and the round contract is in
``jaxgossip.algorithms.base`` (see CHANGELOG.md); this module re-exports them
so that code written against the old path keeps working.
"""

from jaxgossip.algorithms.base import Oracle, RoundCost, State, SyncAlgorithm, round_cost
from jaxgossip.engine.rounds import init_key, round_key, simulate_rounds
from jaxgossip.network.mixing import (
    Mixing,
    TimeVaryingMixing,
    laplacian_mixing,
    metropolis_mixing,
    mixing_from_weights,
    neighbor_sum,
    time_varying_mixing,
)

__all__ = [
    "Mixing",
    "Oracle",
    "RoundCost",
    "State",
    "SyncAlgorithm",
    "TimeVaryingMixing",
    "init_key",
    "laplacian_mixing",
    "metropolis_mixing",
    "mixing_from_weights",
    "neighbor_sum",
    "round_cost",
    "round_key",
    "simulate_rounds",
    "time_varying_mixing",
]
