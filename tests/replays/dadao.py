"""NumPy replay of DADAO (Nabli & Oyallon, ICML 2023, Algorithm 1), event by event.

Independent of the JAX code: the mixing ODE is integrated with scipy's matrix
exponential of the 6x6 mixing matrix, the jumps are applied as the paper
states them.
"""

import numpy as np
import scipy.linalg

from jaxgossip.algorithms.asynchronous.dadao import DADAOState
from tests import reference

COMPUTE = 0
PROBLEMS = ("quadratic", "logistic")


def mixing_matrix(c) -> np.ndarray:
    """A with d/dt (x, x~, y, y~, z, z~) = A (x, x~, y, y~, z, z~) between events."""
    a = np.zeros((6, 6))
    a[0, 0], a[0, 1] = -c["eta"], c["eta"]
    a[1, 0], a[1, 1] = c["eta_tilde"], -c["eta_tilde"]
    a[2, 2], a[2, 3] = -c["alpha"], c["alpha"]
    a[3, 1], a[3, 2], a[3, 4] = -c["theta"] * c["nu"], -c["theta"], -c["theta"]
    a[4, 4], a[4, 5] = -c["alpha"], c["alpha"]
    a[5, 4], a[5, 5] = c["alpha_tilde"], -c["alpha_tilde"]
    return a


def replay(events, problem, algorithm, x0):
    """Final network state of DADAO on an event trace, float64 arrays (n, ...)."""
    names = (
        "nu eta eta_tilde alpha alpha_tilde theta gamma gamma_tilde delta delta_tilde beta "
        "beta_tilde"
    ).split()
    c = {name: float(getattr(algorithm, name)) for name in names}
    a = mixing_matrix(c)
    gradient = reference.gradient_of(problem)
    x0 = np.asarray(x0, np.float64)
    n = x0.shape[0]
    v = np.zeros((n, 6, x0.shape[1]))  # rows x, x~, y, y~, z, z~ per node
    v[:, 0] = v[:, 1] = x0
    last = np.zeros(n)
    times, kinds, senders, receivers = (
        np.asarray(e) for e in (events.time, events.kind, events.i, events.j)
    )
    for t, kind, i, j in zip(times.astype(np.float64), kinds, senders, receivers):
        for k in {int(i), int(j)}:  # both endpoints advance to t first
            v[k] = scipy.linalg.expm(a * (t - last[k])) @ v[k]
            last[k] = t
        if kind == COMPUTE:
            x, y_tilde = v[i, 0], v[i, 3]
            g = gradient(i, x) - c["nu"] * x - y_tilde
            v[i, 0] -= c["gamma"] * g
            v[i, 1] -= c["gamma_tilde"] * g
            v[i, 3] += (c["delta"] + c["delta_tilde"]) * g
        else:
            m = v[i, 2] + v[i, 4] - v[j, 2] - v[j, 4]
            v[i, 4] -= c["beta"] * m
            v[i, 5] -= c["beta_tilde"] * m
            v[j, 4] += c["beta"] * m
            v[j, 5] += c["beta_tilde"] * m
    return DADAOState(variables=v, time=last)
