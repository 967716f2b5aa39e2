"""NumPy replay of randomized gossip (computation events do nothing)."""

from tests.reference import replay_async_gossip_sgd

PROBLEMS = ("quadratic", "logistic")


def replay(events, problem, algorithm, x0):
    del problem, algorithm
    return replay_async_gossip_sgd(events, x0, None, 0.0)
