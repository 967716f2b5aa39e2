"""Experiment-file keys of the command line: precision, num_chunks, shared_basis."""

import numpy as np
import pytest

from jaxgossip.cli.config import parse_experiment
from jaxgossip.cli.tradeoff import parse_config
from jaxgossip.study.build import build_problem
from jaxgossip.study.spec import ExperimentError


def _experiment(**top):
    problem = top.pop("problem", {})
    return {
        "num_events": 1000,
        "num_records": 10,
        "problem": {"kind": "quadratic", "num_nodes": 6, "dim": 4, "kappa": 50.0, **problem},
        "graph": {"kind": "ring"},
        "algorithms": [{"name": "async_gossip_sgd"}],
        **top,
    }


def test_precision_and_num_chunks_default_and_read():
    experiment = parse_experiment(_experiment())
    assert experiment.precision == "float32" and experiment.num_chunks == 1
    experiment = parse_experiment(_experiment(precision="float64", num_chunks=5))
    assert experiment.precision == "float64" and experiment.num_chunks == 5


@pytest.mark.parametrize(
    "top, key, message",
    [
        ({"precision": "float16"}, "precision", "float32"),
        ({"precision": 64}, "precision", "expected a string"),
        ({"num_chunks": 3}, "num_chunks", "divides num_records = 10"),
        ({"num_chunks": 0}, "num_chunks", ">= 1"),
        ({"problem": {"shared_basis": 1}}, "problem.shared_basis", "expected a boolean"),
    ],
)
def test_bad_values_name_the_key(top, key, message):
    with pytest.raises(ExperimentError, match=message) as raised:
        parse_experiment(_experiment(**top))
    assert raised.value.key == key


def test_shared_basis_gives_the_average_hessian_condition_number_kappa():
    def condition(**problem):
        quadratic = build_problem(parse_experiment(_experiment(problem=problem)))
        eigenvalues = np.linalg.eigvalsh(np.mean(np.asarray(quadratic.A, np.float64), axis=0))
        return eigenvalues[-1] / eigenvalues[0]

    np.testing.assert_allclose(condition(shared_basis=True), 50.0, rtol=1e-4)
    assert condition() < 25.0  # independent bases average out (the default)
    assert condition(shared_basis=False) == condition()


def test_shared_basis_is_for_quadratics_only():
    config = _experiment()
    config["problem"] = {
        "kind": "least_squares",
        "num_nodes": 6,
        "dim": 4,
        "shared_basis": True,
    }
    with pytest.raises(ExperimentError, match="does not apply to least_squares"):
        parse_experiment(config)


def test_tradeoff_files_take_precision_and_the_older_float64():
    base = {
        "algorithms": ["async_gossip_sgd"],
        "problem": {"kind": "quadratic", "num_nodes": 6, "dim": 2},
        "graph": {"kind": "ring"},
    }
    assert not parse_config(base).float64
    assert parse_config({**base, "precision": "float64"}).float64
    assert parse_config({**base, "float64": True}).float64
    with pytest.raises(ExperimentError, match="contradicts"):
        parse_config({**base, "precision": "float32", "float64": True})
