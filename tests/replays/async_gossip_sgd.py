"""NumPy replay of AsyncGossipSGD: instant local gradient steps, pairwise averaging."""

from tests.reference import gradient_of, replay_async_gossip_sgd

PROBLEMS = ("quadratic", "logistic")


def replay(events, problem, algorithm, x0):
    return replay_async_gossip_sgd(events, x0, gradient_of(problem), float(algorithm.step_size))
