"""Local objectives stacked over nodes, with their L, mu, x* and f*."""

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

__all__ = [
    "LeastSquares",
    "LogisticRegression",
    "Problem",
    "Quadratic",
    "SampledProblem",
    "Shards",
    "least_squares",
    "logistic_regression",
    "logistic_regression_from_data",
    "partition",
    "quadratic",
    "quadratic_from_arrays",
    "split",
]
