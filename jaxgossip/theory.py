"""Graph constants that the theory of asynchronous gossip is stated in.

All are NumPy float64 set-up computations on a concrete graph. They describe
the Laplacian weighted by the communication rates,
Lambda = sum_e comm_rate[e] (e_i - e_j)(e_i - e_j)^T, so that they carry the
time unit of the clocks: doubling every rate doubles lambda_2 and halves chi1.
"""

from __future__ import annotations

import numpy as np

from jaxgossip.graphs import Graph, effective_resistances, laplacian

DESCRIPTIONS = {
    "num_nodes": "n, nodes",
    "num_edges": "E, edges",
    "lambda_2": "second-smallest eigenvalue of the rate-weighted Laplacian",
    "lambda_max": "largest eigenvalue of the rate-weighted Laplacian",
    "spectral_gap": "lambda_2 / lambda_max",
    "chi1": "1 / lambda_2",
    "chi2": "max over edges of (1/2) (e_i - e_j)^T Lambda^+ (e_i - e_j)",
    "gossip_rate": "lambda_2 / 2: E V(t) <= exp(-rate t) V(0) for randomized gossip",
}


def graph_constants(graph: Graph, comm_rate=1.0) -> dict:
    """The spectral constants of ``graph`` with Poisson edge clocks of rates ``comm_rate``.

    Args:
      graph: a connected graph.
      comm_rate: scalar or (num_edges,) nonnegative edge rates, aligned with
        ``graph.senders``; the edges of positive rate must connect the graph.

    Returns:
      A dict (values are Python ints and floats):

      - ``num_nodes``, ``num_edges``.
      - ``lambda_2``, ``lambda_max``: the second-smallest and the largest
        eigenvalue of Lambda, the Laplacian weighted by the rates (Fiedler's
        algebraic connectivity; for unit rates on K_n both are n, on the ring
        C_n lambda_2 = 2 - 2 cos(2 pi / n)).
      - ``spectral_gap``: lambda_2 / lambda_max, the inverse condition number
        of Lambda on the complement of the consensus line, which governs
        synchronous gossip (e.g. Scaman et al., "Optimal algorithms for smooth
        and strongly convex distributed optimization in networks", ICML 2017,
        where gamma = lambda_2 / lambda_max).
      - ``chi1`` = 1 / lambda_2 and ``chi2`` = max over edges (i, j) of positive
        rate of (1/2) (e_i - e_j)^T Lambda^+ (e_i - e_j), half the largest
        effective resistance of an edge: the two constants of the rate-weighted
        Laplacian in A. Nabli, E. Oyallon, "DADAO", ICML 2023, and A. Nabli,
        E. Belilovsky, E. Oyallon, "A2CiD2", NeurIPS 2023. chi2 <= chi1, and
        Foster's theorem gives sum_e rate_e * 2 chi2 >= n - 1.
      - ``gossip_rate`` = lambda_2 / 2: the contraction rate of randomized
        pairwise gossip in continuous time. With V = sum_i ||x_i - x_bar||^2, an
        event on edge (i, j) lowers V by ||x_i - x_j||^2 / 2, so
        d/dt E V = -(1/2) E x^T Lambda x <= -(lambda_2 / 2) E V and
        E V(t) <= exp(-lambda_2 t / 2) V(0): the continuous-time form of the
        bound of S. Boyd, A. Ghosh, B. Prabhakar, D. Shah, "Randomized Gossip
        Algorithms", IEEE Trans. Inf. Theory 52(6), 2006 (Section II).

    Raises:
      ValueError: bad rates, or the edges of positive rate do not connect the graph.
    """
    rates = np.broadcast_to(np.asarray(comm_rate, dtype=np.float64), (graph.num_edges,))
    lap = laplacian(graph, rates)  # validates the rates
    eigenvalues = np.linalg.eigvalsh(lap)
    lambda_2, lambda_max = float(eigenvalues[1]), float(eigenvalues[-1])
    if not lambda_2 > 1e-12 * max(lambda_max, np.finfo(np.float64).tiny):
        raise ValueError(
            "graph_constants: the edges of positive communication rate do not connect the "
            "graph (lambda_2 of the rate-weighted Laplacian is 0)."
        )
    resistances = effective_resistances(graph, rates)[rates > 0]
    return {
        "num_nodes": graph.num_nodes,
        "num_edges": graph.num_edges,
        "lambda_2": lambda_2,
        "lambda_max": lambda_max,
        "spectral_gap": lambda_2 / lambda_max,
        "chi1": 1.0 / lambda_2,
        "chi2": float(0.5 * resistances.max()),
        "gossip_rate": lambda_2 / 2,
    }


def format_table(constants: dict, *, descriptions: dict | None = None) -> str:
    """Aligned ``name  value  description`` lines; floats to 6 significant digits.

    Args:
      constants: name -> value, as ``graph_constants`` returns.
      descriptions: name -> text for the third column; ``DESCRIPTIONS`` by default.
    """
    descriptions = DESCRIPTIONS if descriptions is None else descriptions
    rows = [(name, _format(value), descriptions.get(name, "")) for name, value in constants.items()]
    if not rows:
        return ""
    name_width = max(len(row[0]) for row in rows)
    value_width = max(len(row[1]) for row in rows)
    return "\n".join(
        f"{name:<{name_width}}  {value:>{value_width}}  {text}".rstrip()
        for name, value, text in rows
    )


def _format(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return str(value)
