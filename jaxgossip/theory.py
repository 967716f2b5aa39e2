"""Graph constants that the theory of asynchronous gossip is stated in.

All are NumPy float64 set-up computations on a concrete graph. They describe
the Laplacian weighted by the communication rates,
Lambda = sum_e comm_rate[e] (e_i - e_j)(e_i - e_j)^T, so that they carry the
time unit of the clocks: doubling every rate doubles lambda_2 and halves chi1.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from jaxgossip.network.graphs import Graph
from jaxgossip.network.spectral import rate_laplacian_constants

DESCRIPTIONS = {
    "num_nodes": "n, nodes",
    "num_edges": "E, edges",
    "lambda_2": "second-smallest eigenvalue of the rate-weighted Laplacian",
    "lambda_max": "largest eigenvalue of the rate-weighted Laplacian",
    "spectral_gap": "gamma = lambda_2 / lambda_max, MSDA's eigengap",
    "adom_chi": "chi = lambda_max / lambda_2 = 1 / gamma, ADOM+'s condition number",
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
      - ``adom_chi`` = lambda_max / lambda_2 = 1 / gamma: the condition number
        chi of the gossip matrix in D. Kovalev, E. Gasanov, A. Gasnikov,
        P. Richtarik, NeurIPS 2021 (ADOM+), for a network that does not change.
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
    c = rate_laplacian_constants(graph, comm_rate, caller="graph_constants")
    lambda_2, lambda_max = c["lambda_2"], c["lambda_max"]
    return {
        "num_nodes": graph.num_nodes,
        "num_edges": graph.num_edges,
        "lambda_2": lambda_2,
        "lambda_max": lambda_max,
        "spectral_gap": lambda_2 / lambda_max,
        "adom_chi": lambda_max / lambda_2,
        "chi1": c["chi1"],
        "chi2": c["chi2"],
        "gossip_rate": lambda_2 / 2,
    }


def gossip_matrix_gap(matrix) -> float:
    """1 - max(|lambda_2|, |lambda_n|) of a symmetric doubly stochastic gossip matrix W.

    The per-round contraction of synchronous gossip x <- W x on the complement
    of the consensus line (e.g. Metropolis weights, ``jaxgossip.network.mixing``).

    Raises:
      ValueError: W is not square, symmetric and doubly stochastic (to 1e-10).
    """
    w = np.asarray(matrix, np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] < 2:
        raise ValueError(
            f"gossip_matrix_gap: W must be a square (n, n) matrix, n >= 2; got {w.shape}."
        )
    if not (np.allclose(w, w.T, atol=1e-10) and np.allclose(w.sum(axis=1), 1.0, atol=1e-10)):
        raise ValueError("gossip_matrix_gap: W must be symmetric and doubly stochastic.")
    eigenvalues = np.linalg.eigvalsh(w)  # ascending; eigenvalues[-1] = 1
    return float(1.0 - max(abs(eigenvalues[-2]), abs(eigenvalues[0])))


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


# --------------------------------------------------------------------------
# Predicted complexities.
#
# Conventions shared by every function below. ``eps`` is a *relative*
# precision: the target is (f(x) - f*) <= eps (f(x0) - f*) (or, for averaging,
# E ||x - x_bar||^2 <= eps ||x0 - x_bar||^2), and log(1/eps) is the natural
# logarithm. kappa = L / mu with L the largest local smoothness and mu the
# smallest local strong convexity (the "local" condition number kappa_l of
# Scaman et al. 2017; it bounds the condition number of the average f).
# ``computations`` count gradients of one local function f_i (one component
# gradient for the centralized finite-sum methods, whose worker holds all n
# f_i); ``communications`` count pairwise exchanges, one per edge per
# synchronous gossip round (the COUNTING of ``jaxgossip.study.compare``). Totals are
# over the whole network.
# --------------------------------------------------------------------------

EXACT = "exact"
UP_TO_CONSTANT = "up to an absolute constant"


@dataclasses.dataclass(frozen=True)
class Prediction:
    """One predicted complexity to reach relative precision eps.

    Attributes:
      method: what it is about, e.g. "Nesterov (centralized)".
      kind: "upper bound" (a guarantee of the method), "lower bound" (no
        method of the class does better) or "bracket" (both, for averaging).
      computations: total gradient computations (NaN: not applicable).
      communications: total pairwise communications (0: centralized; NaN: not applicable).
      constant: ``EXACT`` when the stated constants are the source's, or
        ``UP_TO_CONSTANT`` when the source gives an O() or Omega() bound and the
        figure is that bound with constant 1.
      source: the paper and the result followed.
      formula: the expression evaluated, in the module's notation.
      condition: when the bound applies, if it does not always (empty otherwise).
      condition_met: False when this setting is known to violate ``condition``
        (the figures are then no valid prediction: ``format_report`` marks them
        and ``valid`` is False); None when the condition is not checkable here.
    """

    method: str
    kind: str
    computations: float
    communications: float
    constant: str
    source: str
    formula: str
    condition: str = ""
    condition_met: bool | None = None

    @property
    def valid(self) -> bool:
        """False when the setting violates the bound's condition."""
        return self.condition_met is not False


def _log(eps: float) -> float:
    if not 0 < eps < 1:
        raise ValueError(f"theory: eps is a relative precision in (0, 1); got {eps!r}.")
    return math.log(1.0 / eps)


def _check_kappa(kappa: float) -> float:
    kappa = float(kappa)
    if not kappa >= 1:
        raise ValueError(f"theory: kappa = L / mu must be >= 1; got {kappa!r}.")
    return kappa


def gradient_descent(kappa: float, n: int, eps: float) -> Prediction:
    """Centralized gradient descent with step 1/L on f = (1/n) sum_i f_i.

    f(x_k) - f* <= (1 - 1/kappa)^k (f(x0) - f*) (strong convexity implies the
    Polyak-Lojasiewicz inequality), so k = kappa log(1/eps) iterations of n
    component gradients suffice (using -log(1 - 1/kappa) >= 1/kappa).
    """
    kappa, log = _check_kappa(kappa), _log(eps)
    return Prediction(
        "gradient descent (centralized)",
        "upper bound",
        n * kappa * log,
        0.0,
        EXACT,
        "H. Karimi, J. Nutini, M. Schmidt, 'Linear convergence of gradient and proximal-gradient "
        "methods under the Polyak-Lojasiewicz condition', ECML-PKDD 2016, Theorem 1",
        "n kappa log(1/eps)",
    )


def nesterov(kappa: float, n: int, eps: float) -> Prediction:
    """Nesterov's accelerated gradient, constant momentum (sqrt(kappa)-1)/(sqrt(kappa)+1).

    f(x_k) - f* <= (1 - 1/sqrt(kappa))^k (f(x0) - f* + (mu/2)||x0 - x*||^2)
    <= 2 (1 - 1/sqrt(kappa))^k (f(x0) - f*): k = sqrt(kappa) log(2/eps).
    """
    kappa, log = _check_kappa(kappa), _log(eps)
    return Prediction(
        "Nesterov (centralized)",
        "upper bound",
        n * math.sqrt(kappa) * (log + math.log(2.0)),
        0.0,
        EXACT,
        "Y. Nesterov, 'Lectures on Convex Optimization', Springer 2018, Theorem 2.2.3 "
        "(constant step scheme (2.2.22))",
        "n sqrt(kappa) log(2/eps)",
    )


def svrg(kappa: float, n: int, eps: float) -> Prediction:
    """SVRG with the paper's example parameters: step 0.1/L, m = 50 kappa inner steps.

    Theorem 1 of Johnson & Zhang gives the per-epoch factor
    alpha = 1/(mu eta (1 - 2 L eta) m) + 2 L eta / (1 - 2 L eta) = 1/4 + 1/4 = 1/2,
    each epoch costing n + 2m component gradients (a full gradient, then two per
    inner step): (n + 100 kappa) log2(1/eps) in expectation.
    """
    kappa, log = _check_kappa(kappa), _log(eps)
    return Prediction(
        "SVRG (centralized)",
        "upper bound",
        (n + 100.0 * kappa) * log / math.log(2.0),
        0.0,
        EXACT,
        "R. Johnson, T. Zhang, 'Accelerating stochastic gradient descent using predictive "
        "variance reduction', NeurIPS 2013, Theorem 1 (eta = 0.1/L, m = 50 kappa)",
        "(n + 100 kappa) log2(1/eps)",
    )


def katyusha(kappa: float, n: int, eps: float) -> Prediction:
    """Katyusha: O((n + sqrt(n kappa)) log(1/eps)) component gradients."""
    kappa, log = _check_kappa(kappa), _log(eps)
    return Prediction(
        "Katyusha (centralized)",
        "upper bound",
        (n + math.sqrt(n * kappa)) * log,
        0.0,
        UP_TO_CONSTANT,
        "Z. Allen-Zhu, 'Katyusha: the first direct acceleration of stochastic gradient methods', "
        "JMLR 18(221), 2018 (STOC 2017), Theorem 2.1",
        "(n + sqrt(n kappa)) log(1/eps)",
    )


def finite_sum_lower_bound(kappa: float, n: int, eps: float) -> Prediction:
    """Omega((n + sqrt(n kappa)) log(1/eps)) component gradients for any incremental method."""
    kappa, log = _check_kappa(kappa), _log(eps)
    return Prediction(
        "finite sums of n functions (centralized)",
        "lower bound",
        (n + math.sqrt(n * kappa)) * log,
        0.0,
        UP_TO_CONSTANT,
        "G. Lan, Y. Zhou, 'An optimal randomized incremental gradient method', Math. Program. "
        "171, 2018, Section 3; B. Woodworth, N. Srebro, 'Tight complexity bounds for optimizing "
        "composite objectives', NeurIPS 2016",
        "(n + sqrt(n kappa)) log(1/eps)",
    )


def scaman_lower_bound(kappa: float, gap: float, n: int, num_edges: int, eps: float) -> Prediction:
    """Decentralized lower bound with a fixed gossip matrix of eigengap ``gap``.

    Theorem 2 of Scaman et al.: time Omega(sqrt(kappa_l) (1 + tau/sqrt(gamma)) log(1/eps)),
    i.e. sqrt(kappa) log(1/eps) computation rounds (n computations each) and
    sqrt(kappa / gamma) log(1/eps) communication rounds (|E| exchanges each).
    """
    kappa, log = _check_kappa(kappa), _log(eps)
    return Prediction(
        "decentralized, fixed graph",
        "lower bound",
        n * math.sqrt(kappa) * log,
        num_edges * math.sqrt(kappa / gap) * log,
        UP_TO_CONSTANT,
        "K. Scaman, F. Bach, S. Bubeck, Y. T. Lee, L. Massoulie, 'Optimal algorithms for smooth "
        "and strongly convex distributed optimization in networks', ICML 2017, Theorem 2",
        "n sqrt(kappa) log(1/eps); |E| sqrt(kappa/gamma) log(1/eps)",
    )


def msda(kappa: float, gap: float, n: int, num_edges: int, eps: float) -> Prediction:
    """MSDA with Chebyshev gossip (K = max(1, floor(1/sqrt(gamma))) steps per round, as in
    ``MSDA.from_theory``).

    Theorem 4 of Scaman et al.: time O(sqrt(kappa_l) (1 + tau/sqrt(gamma)) log(1/eps)):
    the same orders as the lower bound, which MSDA attains.
    """
    bound = scaman_lower_bound(kappa, gap, n, num_edges, eps)
    return dataclasses.replace(
        bound,
        method="MSDA",
        kind="upper bound",
        source=bound.source.replace("Theorem 2", "Theorem 4"),
    )


def kovalev_lower_bound(kappa: float, chi: float, n: int, num_edges: int, eps: float) -> Prediction:
    """Lower bound on time-varying networks whose gossip matrices have condition number <= chi.

    Kovalev et al. 2021: Omega(chi sqrt(kappa) log(1/eps)) communication rounds and
    Omega(sqrt(kappa) log(1/eps)) local computation rounds. On a fixed graph
    chi = lambda_max / lambda_2 = 1/gamma: without Chebyshev acceleration a
    time-varying network costs sqrt(chi) more rounds than Scaman's bound.
    """
    kappa, log = _check_kappa(kappa), _log(eps)
    return Prediction(
        "decentralized, time-varying graphs",
        "lower bound",
        n * math.sqrt(kappa) * log,
        num_edges * chi * math.sqrt(kappa) * log,
        UP_TO_CONSTANT,
        "D. Kovalev, E. Gasanov, A. Gasnikov, P. Richtarik, 'Lower bounds and optimal algorithms "
        "for smooth and strongly convex decentralized optimization over time-varying networks', "
        "NeurIPS 2021, Theorem 1",
        "n sqrt(kappa) log(1/eps); |E| chi sqrt(kappa) log(1/eps)",
    )


def adom_plus(
    kappa: float, chi: float, n: int, num_edges: int, eps: float, *, multi_consensus=False
) -> Prediction:
    """ADOM+: O(chi sqrt(kappa) log(1/eps)) rounds of one computation and one gossip each;
    with multi-consensus, O(sqrt(kappa) log(1/eps)) computations and
    O(chi sqrt(kappa) log(1/eps)) communications (the lower bound's orders)."""
    bound = kovalev_lower_bound(kappa, chi, n, num_edges, eps)
    rounds = chi * math.sqrt(kappa) * _log(eps)
    computations = bound.computations if multi_consensus else n * rounds
    return dataclasses.replace(
        bound,
        method="ADOM+ with multi-consensus" if multi_consensus else "ADOM+",
        kind="upper bound",
        computations=computations,
        source=bound.source.replace("Theorem 1", "Theorems 2 and 3"),
        formula=(
            bound.formula
            if multi_consensus
            else "n chi sqrt(kappa) log(1/eps); |E| chi sqrt(kappa) log(1/eps)"
        ),
    )


def adfs_lower_bound(
    kappa: float, num_samples: int, gap: float, n: int, num_edges: int, eps: float
) -> Prediction:
    """Decentralized finite sums: each node holds m samples.

    Per node, Omega((m + sqrt(m kappa_s)) log(1/eps)) component gradients (the
    finite-sum bound of Lan & Zhou applied to a node's own sum) and
    Omega(sqrt(kappa/gamma) log(1/eps)) communication rounds (Scaman et al.): the
    two terms Hendrikx et al. compare ADFS to, which ADFS matches. kappa_s is
    taken as kappa here (it is the component condition number, >= kappa).
    """
    kappa, log = _check_kappa(kappa), _log(eps)
    m = int(num_samples)
    return Prediction(
        f"decentralized finite sums (m = {m} per node)",
        "lower bound",
        n * (m + math.sqrt(m * kappa)) * log,
        num_edges * math.sqrt(kappa / gap) * log,
        UP_TO_CONSTANT,
        "H. Hendrikx, F. Bach, L. Massoulie, 'An accelerated decentralized stochastic proximal "
        "algorithm for finite sums', NeurIPS 2019, Section 2 (with Lan & Zhou 2018 and Scaman "
        "et al. 2017)",
        "n (m + sqrt(m kappa)) log(1/eps); |E| sqrt(kappa/gamma) log(1/eps)",
    )


def dadao(
    kappa: float,
    chi1: float,
    chi2: float,
    n: int,
    compute_rate: float,
    total_comm: float,
    eps: float,
) -> Prediction:
    """DADAO, per-node gradient rate r = ``compute_rate``, edge rates summing to ``total_comm``.

    The paper's guarantee, read in simulated time: the error decays like
    exp(-c r sqrt(mu/L) t) when chi1 chi2 <= 1/2 (chi's of Lambda / r), so
    T = sqrt(kappa) log(1/eps) / r (constant 1), computations = n r T =
    n sqrt(kappa) log(1/eps) and communications = total_comm T. With edge rates
    scaled to meet chi1 chi2 = 1/2 these are the abstract's O(n sqrt(L/mu)
    log(1/eps)) gradients and O(n sqrt(chi1* chi2*) sqrt(L/mu) log(1/eps))
    communications. ``chi1``, ``chi2`` are those of Lambda / r.
    """
    kappa, log = _check_kappa(kappa), _log(eps)
    time = math.sqrt(kappa) * log / compute_rate
    return Prediction(
        "DADAO",
        "upper bound",
        n * compute_rate * time,
        total_comm * time,
        UP_TO_CONSTANT,
        "A. Nabli, E. Oyallon, 'DADAO: Decoupled accelerated decentralized asynchronous "
        "optimization', ICML 2023 (complexities of the abstract and main theorem)",
        "T = sqrt(kappa) log(1/eps) / r: n r T computations, (sum of edge rates) T communications",
        condition=f"chi1 chi2 <= 1/2 (here {chi1 * chi2:.3g})",
        condition_met=chi1 * chi2 <= 0.5,
    )


def gossip_averaging_time(lambda_2: float, eps: float) -> tuple[float, float]:
    """(lower, upper) simulated time for randomized pairwise gossip to eps-average.

    With V(t) = ||x(t) - x_bar||^2 and Lambda the rate-weighted Laplacian:
    upper, for every x0: d E V / dt = -(1/2) x^T Lambda x <= -(lambda_2/2) V, so
    E V(t) <= exp(-lambda_2 t / 2) V(0) and t = 2 log(1/eps) / lambda_2 suffices
    (the continuous-time form of Boyd et al. 2006, Section II). Lower, for x0 a
    Fiedler vector: E x(t) = exp(-Lambda t / 2) x0, and by Jensen
    E V(t) >= ||E x(t) - x_bar||^2 = exp(-lambda_2 t) V(0), so no time below
    log(1/eps) / lambda_2 reaches eps from that start. Both constants are exact.
    """
    log = _log(eps)
    if not lambda_2 > 0:
        raise ValueError(f"gossip_averaging_time: lambda_2 must be > 0; got {lambda_2!r}.")
    return log / lambda_2, 2.0 * log / lambda_2


def randomized_gossip(lambda_2: float, total_comm: float, eps: float) -> list[Prediction]:
    """The two sides of ``gossip_averaging_time`` as communications (no computation)."""
    lower, upper = gossip_averaging_time(lambda_2, eps)
    source = (
        "S. Boyd, A. Ghosh, B. Prabhakar, D. Shah, 'Randomized gossip algorithms', IEEE Trans. "
        "Inf. Theory 52(6), 2006, Section II (continuous-time form; see gossip_averaging_time)"
    )
    return [
        Prediction(
            "randomized gossip averaging",
            kind,
            math.nan,
            total_comm * time,
            EXACT,
            source,
            formula,
            condition,
        )
        for kind, time, formula, condition in (
            ("upper bound", upper, "(sum of edge rates) 2 log(1/eps) / lambda_2", ""),
            (
                "lower bound",
                lower,
                "(sum of edge rates) log(1/eps) / lambda_2",
                "worst-case start (a Fiedler vector)",
            ),
        )
    ]


def a2cid2_averaging(chi1: float, chi2: float, total_comm: float, eps: float) -> Prediction:
    """A2CiD2's continuous momentum: consensus contracts at rate 1/sqrt(chi1 chi2)
    instead of gossip's 1/chi1, so eps-averaging takes O(sqrt(chi1 chi2) log(1/eps))."""
    time = math.sqrt(chi1 * chi2) * _log(eps)
    return Prediction(
        "A2CiD2 averaging",
        "upper bound",
        math.nan,
        total_comm * time,
        UP_TO_CONSTANT,
        "A. Nabli, E. Belilovsky, E. Oyallon, 'A2CiD2: Accelerating asynchronous communication "
        "in decentralized deep learning', NeurIPS 2023 (its accelerated gossip rate)",
        "(sum of edge rates) sqrt(chi1 chi2) log(1/eps)",
    )


def _setting(kappa: float, clocks) -> dict:
    """kappa, n, the graph constants and the clocks' totals of one setting."""
    comm_rate = np.broadcast_to(np.asarray(clocks.comm_rate, np.float64), (clocks.graph.num_edges,))
    return dict(
        kappa=_check_kappa(kappa),
        n=clocks.graph.num_nodes,
        constants=graph_constants(clocks.graph, comm_rate),
        comm_rate=comm_rate,
        compute_rate=float(np.mean(np.asarray(clocks.compute_rate, np.float64))),
        total_comm=float(comm_rate.sum()),
    )


def _kappa(problem) -> float:
    if not getattr(problem, "convex", True):
        raise ValueError(
            f"theory: the rates and lower bounds are for L-smooth, mu-strongly convex "
            f"problems; the learning problem {type(problem).__name__} has no L or mu "
            "(compare measured metrics instead)."
        )
    return float(problem.L) / float(problem.mu)


def report(problem, clocks, eps: float = 1e-6) -> list[Prediction]:
    """Every prediction of this module for one setting, lower bounds next to methods.

    Args:
      problem: gives L, mu (kappa = L / mu) and, for finite sums, m = ``num_samples``.
      clocks: the graph and its rates. Synchronous figures use the rate-weighted
        Laplacian's gap gamma = lambda_2 / lambda_max (MSDA's eigengap; ADOM+'s
        chi = 1/gamma); asynchronous ones the rates themselves.
      eps: relative precision in (0, 1).

    Returns:
      ``Prediction`` rows; print them with ``format_report``.
    """
    return predictions(
        _kappa(problem), clocks, eps, num_samples=int(getattr(problem, "num_samples", 1))
    )


def predictions(kappa: float, clocks, eps: float = 1e-6, *, num_samples: int = 1):
    """``report`` from the condition number alone (and m samples per node)."""
    s = _setting(kappa, clocks)
    c = s["constants"]
    n, edges, r = s["n"], c["num_edges"], s["compute_rate"]
    gap, chi = c["spectral_gap"], c["adom_chi"]
    if not r > 0:
        raise ValueError("theory: the nodes' mean compute rate must be > 0.")
    scaled = graph_constants(clocks.graph, s["comm_rate"] / r)
    return [
        gradient_descent(kappa, n, eps),
        nesterov(kappa, n, eps),
        svrg(kappa, n, eps),
        katyusha(kappa, n, eps),
        finite_sum_lower_bound(kappa, n, eps),
        scaman_lower_bound(kappa, gap, n, edges, eps),
        msda(kappa, gap, n, edges, eps),
        kovalev_lower_bound(kappa, chi, n, edges, eps),
        adom_plus(kappa, chi, n, edges, eps),
        adom_plus(kappa, chi, n, edges, eps, multi_consensus=True),
        adfs_lower_bound(kappa, num_samples, gap, n, edges, eps),
        dadao(kappa, scaled["chi1"], scaled["chi2"], n, r, s["total_comm"], eps),
        a2cid2_averaging(c["chi1"], c["chi2"], s["total_comm"], eps),
        *randomized_gossip(c["lambda_2"], s["total_comm"], eps),
    ]


def lower_bounds(problem, clocks, eps: float, *, x0=None) -> dict:
    """The lower bounds drawn as the forbidden region of trade-off figures.

    ``eps`` is ABSOLUTE here (a target on f(x_bar) - f*, as the simulations
    report it): it is made relative to f(x0) - f*, x0 = 0 by default (the
    engine's default start). Returns {"computations", "communications",
    "source"}: Scaman et al.'s Theorem 2, n sqrt(kappa) log(1/eps) and
    |E| sqrt(kappa/gamma) log(1/eps), constant 1 (they hold up to an absolute
    constant), with gamma the gap of the rate-weighted Laplacian.
    """
    kappa = _kappa(problem)  # refuses learning problems first
    x0 = np.zeros(problem.dim) if x0 is None else np.asarray(x0, np.float64)
    initial = float(problem.value(x0)) - float(problem.f_star)
    relative = min(float(eps) / initial, 0.5) if initial > 0 else 0.5
    s = _setting(kappa, clocks)
    c = s["constants"]
    bound = scaman_lower_bound(s["kappa"], c["spectral_gap"], s["n"], c["num_edges"], relative)
    return dict(
        computations=bound.computations,
        communications=bound.communications,
        source="Scaman et al. 2017, Thm 2",
    )


def rates(problem, clocks) -> dict[str, float]:
    """Predicted contraction rates of f - f* per unit of simulated time (or per round).

    For overlays on convergence figures (``plot_convergence(rates=...)``):
    ``gossip`` lambda_2 / 2 (exact upper bound, of consensus), ``dadao``
    r sqrt(mu/L) (up to an absolute constant, constant 1), and per synchronous
    round ``gradient_descent`` -log(1 - 1/kappa) and ``nesterov``
    -log(1 - 1/sqrt(kappa)) (exact).
    """
    s = _setting(_kappa(problem), clocks)
    kappa = s["kappa"]
    return {
        "gossip": s["constants"]["gossip_rate"],
        "dadao": s["compute_rate"] / math.sqrt(kappa),
        "gradient_descent": -math.log1p(-1.0 / kappa) if kappa > 1 else math.inf,
        "nesterov": -math.log1p(-1.0 / math.sqrt(kappa)) if kappa > 1 else math.inf,
    }


def format_report(rows: list[Prediction]) -> str:
    """A plain-text table of ``report``'s rows, then the sources, numbered."""
    header = ("method", "bound", "computations", "communications", "constant")

    def figure(row, value):  # a bound whose condition fails is no prediction
        return _count(value) if row.valid or math.isnan(value) else f"({_count(value)})"

    body = [
        (
            row.method,
            row.kind if row.valid else f"{row.kind}: CONDITION FAILS",
            figure(row, row.computations),
            figure(row, row.communications),
            "exact" if row.constant == EXACT else "up to const.",
        )
        for row in rows
    ]
    widths = [max(len(line[k]) for line in (header, *body)) for k in range(len(header))]
    lines = [
        "  ".join(
            text.ljust(width) if k < 2 else text.rjust(width)
            for k, (text, width) in enumerate(zip(line, widths))
        ).rstrip()
        for line in (header, *body)
    ]
    lines.append("")
    for k, row in enumerate(rows, 1):
        condition = f" [if {row.condition}]" if row.condition else ""
        if not row.valid:
            condition += " [FAILS in this setting: the figures in parentheses do not apply]"
        lines.append(f"[{k}] {row.method}: {row.formula}{condition}. {row.source}.")
    return "\n".join(lines)


def _count(value: float) -> str:
    if math.isnan(value):
        return "-"
    if value == 0:
        return "0"
    return f"{value:.3g}"
