"""Spectral constants of a graph with Poisson edge clocks: the one chi1 and chi2.

Everything here describes the Laplacian weighted by the communication rates,
Lambda = sum_e rate_e (e_i - e_j)(e_i - e_j)^T, in NumPy float64 on a concrete
graph, so the constants carry the clocks' time unit (doubling every rate
doubles lambda_2 and halves chi1). DADAO, A2CiD2, the continuized dual method
and ``jaxgossip.theory`` all read them from here. Dense set-up: O(n^3) time and
O(n^2) memory (one eigen-decomposition and one inverse of Lambda).
"""

from __future__ import annotations

import numpy as np

from jaxgossip.network.graphs import Graph, effective_resistances, laplacian


def rate_laplacian_constants(graph: Graph, comm_rate=1.0, *, caller: str = "graph_constants"):
    """lambda_2, lambda_max, chi1 and chi2 of the rate-weighted Laplacian, as a dict of floats.

    chi1 = 1 / lambda_2 and chi2 = max over edges (i, j) of positive rate of
    (1/2) (e_i - e_j)^T Lambda^+ (e_i - e_j), half the largest effective
    resistance of an edge (A. Nabli, E. Oyallon, "DADAO", ICML 2023; A. Nabli,
    E. Belilovsky, E. Oyallon, "A2CiD2", NeurIPS 2023).

    Args:
      graph: the graph.
      comm_rate: scalar or (num_edges,) nonnegative edge rates, aligned with
        ``graph.senders``.
      caller: named in the error.

    Raises:
      ValueError: bad rates, or the edges of positive rate do not connect the graph.
    """
    rates = np.broadcast_to(np.asarray(comm_rate, dtype=np.float64), (graph.num_edges,))
    eigenvalues = np.linalg.eigvalsh(laplacian(graph, rates))  # laplacian validates the rates
    lambda_2, lambda_max = float(eigenvalues[1]), float(eigenvalues[-1])
    if not lambda_2 > 1e-12 * max(lambda_max, np.finfo(np.float64).tiny):
        raise ValueError(
            f"{caller}: the edges of positive communication rate do not connect the "
            "graph (lambda_2 of the rate-weighted Laplacian is 0)."
        )
    resistances = effective_resistances(graph, rates)[rates > 0]
    return {
        "lambda_2": lambda_2,
        "lambda_max": lambda_max,
        "chi1": 1.0 / lambda_2,
        "chi2": float(0.5 * resistances.max()),
    }


def chi_constants(graph: Graph, comm_rate=1.0, *, caller: str = "chi_constants"):
    """(chi1, chi2) of the rate-weighted Laplacian (see ``rate_laplacian_constants``)."""
    constants = rate_laplacian_constants(graph, comm_rate, caller=caller)
    return constants["chi1"], constants["chi2"]
