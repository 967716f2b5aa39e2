"""Local objectives stacked over nodes: convex problems with their L, mu, x* and f*,
and learning problems (a model, a loss and one data shard per node)."""

from jaxgossip.problems import losses
from jaxgossip.problems.base import Problem, SampledProblem
from jaxgossip.problems.least_squares import LeastSquares, least_squares
from jaxgossip.problems.logistic import (
    LogisticRegression,
    logistic_regression,
    logistic_regression_from_data,
)
from jaxgossip.problems.partition import partition
from jaxgossip.problems.quadratic import Quadratic, quadratic, quadratic_from_arrays
from jaxgossip.problems.split import Shards, split
from jaxgossip.problems.supervised import NotConvexError, Supervised, supervised

__all__ = [
    "LeastSquares",
    "LogisticRegression",
    "NotConvexError",
    "Problem",
    "Quadratic",
    "SampledProblem",
    "Shards",
    "Supervised",
    "least_squares",
    "logistic_regression",
    "losses",
    "logistic_regression_from_data",
    "partition",
    "quadratic",
    "quadratic_from_arrays",
    "split",
    "supervised",
]
