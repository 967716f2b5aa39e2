"""Plain NumPy replays of event traces, written independently of the engine.

Each function loops over events one by one in float64, exactly as the papers
state the updates; tests compare the jitted engine against them.
"""

import numpy as np
import scipy.optimize

import jaxgossip as jg

COMPUTE = 0


def small_problem(kind, key, num_nodes, dim, heterogeneity=1.0):
    """The tests' standard pair: a quadratic of kappa 10 (of the given heterogeneity),
    or l2-logistic regression with 20 samples per node and reg 0.1."""
    if kind == "quadratic":
        return jg.problems.quadratic(key, num_nodes, dim, kappa=10.0, heterogeneity=heterogeneity)
    return jg.problems.logistic_regression(key, num_nodes, dim, 20, reg=0.1)


def quadratic_gradient(problem):
    A, b = np.asarray(problem.A, np.float64), np.asarray(problem.b, np.float64)
    return lambda i, x: A[i] @ x - b[i]


def logistic_gradient(problem):
    a = np.asarray(problem.features, np.float64)  # (n, m, d)
    y = np.asarray(problem.labels, np.float64)  # (n, m)
    reg = float(problem.reg)

    def gradient(i, x):
        margins = y[i] * (a[i] @ x)
        weights = -y[i] / (1.0 + np.exp(margins))  # d/dz log(1 + exp(-z)) = -1/(1+e^z)
        return a[i].T @ weights / a.shape[1] + reg * x

    return gradient


def replay_async_gossip_sgd(events, x0, gradient, step_size):
    """AsyncGossipSGD (step_size > 0) or Gossip (gradient None) on an event trace."""
    x = np.array(x0, np.float64)
    kinds, senders, receivers = (np.asarray(a) for a in (events.kind, events.i, events.j))
    for kind, i, j in zip(kinds, senders, receivers):
        if kind == COMPUTE:
            if gradient is not None:
                x[i] = x[i] - step_size * gradient(i, x[i])
        else:
            x[i] = x[j] = (x[i] + x[j]) / 2.0
    return x


def gradient_of(problem):
    """The NumPy local gradient (i, x) -> grad f_i(x) of a quadratic or logistic problem."""
    if hasattr(problem, "features"):
        return logistic_gradient(problem)
    return quadratic_gradient(problem)


def conjugate_gradient_of(problem):
    """(i, y) -> argmax_x <y, x> - f_i(x) for a quadratic, least-squares or logistic problem."""
    if hasattr(problem, "features"):  # logistic regression: no closed form
        return logistic_conjugate_gradient(problem)
    if hasattr(problem, "reg"):  # least squares: 1/(2m) |A_i x - b_i|^2 + reg/2 |x|^2
        A, b = np.asarray(problem.A, np.float64), np.asarray(problem.b, np.float64)
        m, d = A.shape[1:]
        hessians = np.einsum("nmi,nmj->nij", A, A) / m + float(problem.reg) * np.eye(d)
        linear = np.einsum("nmd,nm->nd", A, b) / m
        return lambda i, y: np.linalg.solve(hessians[i], y + linear[i])
    A, b = np.asarray(problem.A, np.float64), np.asarray(problem.b, np.float64)
    return lambda i, y: np.linalg.solve(A[i], y + b[i])  # 1/2 x^T A_i x - b_i^T x + c_i


def logistic_conjugate_gradient(problem):
    """(i, v) -> argmax_x <v, x> - f_i(x) of a logistic problem, solved in float64.

    The root of grad f_i(x) = v by MINPACK's hybrid Powell method
    (``scipy.optimize.root``, "hybr", the Hessian as Jacobian): a dogleg trust
    region on |grad f_i(x) - v|, independent of the package's damped Newton on
    phi. It reaches round-off (measured |grad f_i(x) - v| <= 5e-16 |v|); a
    residual above 1e-12 (1 + |v|) raises.
    """
    a = np.asarray(problem.features, np.float64)  # (n, m, d)
    y = np.asarray(problem.labels, np.float64)  # (n, m)
    reg, (_, m, d) = float(problem.reg), a.shape

    def sigmoid(z):
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free

    def residual(x, i, v):
        return a[i].T @ (-y[i] * sigmoid(-y[i] * (a[i] @ x))) / m + reg * x - v

    def hessian(i, x):
        s = sigmoid(y[i] * (a[i] @ x))
        return (a[i].T * (s * (1.0 - s))) @ a[i] / m + reg * np.eye(d)

    def conjugate(i, v):
        v = np.asarray(v, np.float64)
        solution = scipy.optimize.root(
            residual,
            np.zeros(d),
            args=(i, v),
            jac=lambda x, i, v: hessian(i, x),
            method="hybr",
            options={"xtol": 1e-15},
        ).x
        error = np.linalg.norm(residual(solution, i, v))
        if not error <= 1e-12 * (1.0 + np.linalg.norm(v)):
            raise RuntimeError(f"conjugate of f_{i} at {v} not solved: residual {error:.3g}")
        return solution

    return conjugate
