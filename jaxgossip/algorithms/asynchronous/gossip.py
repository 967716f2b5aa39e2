"""Randomized pairwise gossip averaging.

S. Boyd, A. Ghosh, B. Prabhakar, D. Shah, "Randomized Gossip Algorithms",
IEEE Transactions on Information Theory 52(6), 2006 (the asynchronous
pairwise model of Section II): when edge (i, j) rings, both nodes replace
their values by the average (x_i + x_j) / 2. Computation events do nothing.
"""

from __future__ import annotations

from jaxgossip.algorithms.base import Algorithm
from jaxgossip.algorithms.ops import pairwise_average


class Gossip(Algorithm):
    """Randomized gossip: averages the two endpoints of each communication."""

    @classmethod
    def from_theory(cls, problem, clocks) -> Gossip:
        del problem, clocks
        return cls()

    def on_communicate(self, node_i, node_j, t, edge):
        del t, edge
        return pairwise_average(node_i, node_j)
