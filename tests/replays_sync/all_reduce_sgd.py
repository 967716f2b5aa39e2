"""NumPy replay of all-reduce minibatch SGD (Goyal et al., 2017) with full local gradients.

One shared model from the mean of the nodes' initial points: every round
x <- x - gamma (1/n) sum_i grad f_i(x), the gradients of all n workers averaged.
"""

import numpy as np

from jaxgossip.algorithms.synchronous.all_reduce_sgd import AllReduceSGDState
from tests import reference


def replay(problem, mixing, algorithm, x0, num_rounds, rng_draws=None):
    """Runs ``num_rounds`` rounds in float64; returns the final state (NumPy leaves)."""
    del mixing, rng_draws
    gradient = reference.gradient_of(problem)
    n = problem.num_nodes
    gamma = float(algorithm.step_size)
    x = np.asarray(x0, np.float64).mean(axis=0)
    for _ in range(num_rounds):
        x = x - gamma * np.mean([gradient(i, x) for i in range(n)], axis=0)
    return AllReduceSGDState(x=x, opt_state=None, num_nodes=n)
