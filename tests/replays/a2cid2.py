"""NumPy replay of A2CiD2 (Nabli, Belilovsky, Oyallon, NeurIPS 2023), both readings.

Each node holds (x_i, x~_i), a heavy-ball buffer m_i and the time t_i of its
last event. Mix(t - t_i) is the flow of the ODE d(x, x~)/dt = M (x, x~) with
M = [[-eta, eta], [eta, -eta]], computed here as the 2x2 matrix exponential
exp(M (t - t_i)) through a numerical eigendecomposition of M (independently of
the closed form the engine uses).

reading "event_time": the touched nodes are mixed up to t first, then
  compute at i:     m_i <- momentum m_i + grad f_i(x_i);
                    x_i <- x_i - gamma m_i;  x~_i <- x~_i - gamma m_i
  communicate i-j:  x_i <- x_i - alpha (x_i - x_j);  x~_i <- x~_i - alpha~ (x_i - x_j)
                    (and symmetrically for j, from the mixed pre-event values).

reading "authors", in the order of the authors' trainer (ACiD ``main.py``,
``adp.py: ADP.step``, ``p2p_averaging.py: do_send / do_recv``):
  compute at i:     g <- grad f_i(x_i) at the stored x_i; Mix; then the step with g;
  communicate i-j:  s_i, s_j <- stored x_i, x_j (the messages); Mix both; then
                    x~_i <- x~_i + alpha~ (s_j - x_i), x_i <- x_i + alpha (s_j - x_i),
                    and symmetrically for j.
"""

import numpy as np

from jaxgossip.algorithms.asynchronous.a2cid2 import A2CiD2State
from tests.reference import gradient_of

COMPUTE = 0
PROBLEMS = ("quadratic", "logistic")


def replay(events, problem, algorithm, x0, initial_state=None):
    """Final network state of ``algorithm`` on an event trace (float64 arrays (n, ...)).

    ``initial_state`` (an ``A2CiD2State`` of arrays) replaces the start
    x = x~ = x0, m = 0, t = 0.
    """
    gradient = gradient_of(problem)
    gamma, eta, alpha, alpha_tilde, momentum = (
        float(v)
        for v in (
            algorithm.step_size,
            algorithm.eta,
            algorithm.alpha,
            algorithm.alpha_tilde,
            algorithm.momentum,
        )
    )
    authors = algorithm.reading == "authors"
    eigenvalues, eigenvectors = np.linalg.eigh(np.array([[-eta, eta], [eta, -eta]]))
    if initial_state is None:
        x = np.array(x0, np.float64)
        x_tilde = x.copy()
        buffer = np.zeros_like(x)
        last = np.zeros(x.shape[0])
    else:
        x, x_tilde, buffer, last = (np.array(v, np.float64) for v in initial_state)

    def mix(i, t):
        flow = eigenvectors @ np.diag(np.exp(eigenvalues * (t - last[i]))) @ eigenvectors.T
        (a, b), (c, d) = flow
        x[i], x_tilde[i] = a * x[i] + b * x_tilde[i], c * x[i] + d * x_tilde[i]
        last[i] = t

    times, kinds, first, second = (
        np.asarray(a) for a in (events.time, events.kind, events.i, events.j)
    )
    for t, kind, i, j in zip(times.astype(np.float64), kinds, first, second):
        if kind == COMPUTE:
            if authors:
                g = gradient(i, x[i])
                mix(i, t)
            else:
                mix(i, t)
                g = gradient(i, x[i])
            buffer[i] = momentum * buffer[i] + g
            x[i] -= gamma * buffer[i]
            x_tilde[i] -= gamma * buffer[i]
        elif authors:
            sent_i, sent_j = x[i].copy(), x[j].copy()
            mix(i, t)
            mix(j, t)
            for k, received in ((i, sent_j), (j, sent_i)):
                x_tilde[k] += alpha_tilde * (received - x[k])
                x[k] += alpha * (received - x[k])
        else:
            mix(i, t)
            mix(j, t)
            diff = x[i] - x[j]
            x[i], x[j] = x[i] - alpha * diff, x[j] + alpha * diff
            x_tilde[i], x_tilde[j] = (
                x_tilde[i] - alpha_tilde * diff,
                x_tilde[j] + alpha_tilde * diff,
            )
    return A2CiD2State(x=x, x_tilde=x_tilde, buffer=buffer, time=last)
