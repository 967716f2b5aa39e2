"""Experiment and trade-off files with learning problems: the keys, their errors, a tiny run."""

import copy
import json

import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.cli.config import parse_experiment
from jaxgossip.cli.main import main
from jaxgossip.cli.tradeoff import parse_config
from jaxgossip.study.build import build_network, build_problem, configure_algorithm
from jaxgossip.study.spec import ExperimentError
from jaxgossip.study.sweep import load_sweep

# Iris (120 train / 30 test samples, 4 features, 3 classes) and a linear model
# (depth 0): the smallest learning problem, so that a run compiles fast.
BASE = {
    "seeds": 1,
    "num_events": 600,
    "num_records": 6,
    "eps": 0.6,
    "problem": {
        "kind": "supervised",
        "num_nodes": 3,
        "data": "iris",
        "model": {"depth": 0},
        "batch_size": 8,
        "eval_size": 60,
    },
    "graph": {"kind": "ring"},
    "algorithms": [
        {
            "name": "async_gossip_sgd",
            "optimizer": {"name": "sgd", "momentum": 0.5},
            "grid": {"learning_rate": [0.05, 0.5]},
        }
    ],
    "output": {"figures": False},
}


def _config(*changes):
    """BASE with ``(key path, value)`` changes; a value of None deletes the key."""
    config = copy.deepcopy(BASE)
    for path, value in changes:
        *parents, last = path.split(".")
        table = config
        for key in parents:
            table = table[int(key)] if key.isdigit() else table[key]
        if value is None:
            del table[last]
        else:
            table[last] = value
    return config


def test_defaults_of_a_supervised_problem():
    experiment = parse_experiment(_config(), file="f.toml")
    assert (experiment.metric, experiment.eps, experiment.num_rounds) == (
        "test_accuracy",
        0.6,
        None,
    )
    o = experiment.problem.options
    assert experiment.problem.data == "iris" and experiment.problem.dim is None
    assert (o["split"], o["alpha"], o["init"], o["loss"]) == (
        "iid",
        None,
        "shared",
        "softmax_cross_entropy",
    )
    assert o["model"] == {"kind": "mlp", "width": 32, "depth": 0, "activation": "relu"}
    assert (o["test_fraction"], o["standardize"], o["eval_size"]) == (0.2, True, 60)
    (spec,) = experiment.algorithms
    assert spec.optimizer.name == "sgd" and spec.optimizer.args == {"momentum": 0.5}
    assert spec.optimizer_axes == ("learning_rate",) and spec.grid == {"learning_rate": [0.05, 0.5]}


def test_shorthands_and_a_dirichlet_split():
    config = _config(
        ("problem.model", "mlp"),
        ("problem.data", "sklearn:digits"),
        ("problem.split", "dirichlet"),
        ("problem.alpha", 0.1),
        ("metric", "test_loss"),
        ("eps", 0.5),
    )
    experiment = parse_experiment(config, file="f.toml")
    assert experiment.problem.data == "digits" and experiment.problem.options["alpha"] == 0.1
    assert experiment.problem.options["model"]["width"] == 32
    assert experiment.metric == "test_loss"


BAD = [
    (("problem.split", "dirichlet"), "problem.alpha", 'missing; split = "dirichlet" needs alpha'),
    (("problem.alpha", 0.5), "problem.alpha", 'applies only to split = "dirichlet"'),
    (("problem.classes_per_node", 3), "problem.classes_per_node", 'only to split = "label"'),
    (("problem.split", "random"), "problem.split", "unknown split 'random'"),
    (("problem.data", "irsi"), "problem.data", "did you mean 'iris'"),
    (("problem.data", "diabetes"), "problem.data", "regression set"),
    (("problem.data", "missing.npz"), "problem.data", "no file"),
    (("problem.data", 3), "problem.data", "expected a string"),
    (("problem.model", {"activation": "gelu"}), "problem.model.activation", "unknown activation"),
    (("problem.model", {"width": 0}), "problem.model.width", "expected an integer >= 1"),
    (("problem.model", {"widht": 8}), "problem.model.widht", "did you mean 'width'"),
    (("problem.model", {"kind": "cnn"}), "problem.model.kind", "unknown model kind 'cnn'"),
    (("problem.model", 3), "problem.model", "expected a model kind or a table"),
    (("problem.loss", "squared_error"), "problem.loss", "unknown classification loss"),
    (("problem.init", "per-node"), "problem.init", "did you mean 'per_node'"),
    (("problem.dim", 4), "problem.dim", "dim does not apply to supervised"),
    (("problem.kappa", 4.0), "problem.kappa", "kappa does not apply to supervised"),
    (("problem.test_fraction", 1.5), "problem.test_fraction", "in (0, 1)"),
    (("problem.eval_size", 0), "problem.eval_size", ">= 1"),
    (("problem.batch_size", 0), "problem.batch_size", ">= 1"),
    (("problem.standardize", "yes"), "problem.standardize", "expected a boolean"),
    (("metric", "suboptimality"), "metric", "a learning problem has no f*"),
    (("metric", "test_acc"), "metric", "did you mean 'test_accuracy'"),
    (("eps", 1.5), "eps", "expected an accuracy in (0, 1]"),
    (("eps", None), "eps", "missing; expected the target value of test_accuracy"),
    (("algorithms.0.optimizer.name", "sgdd"), "algorithms[0].optimizer.name", "did you mean 'sgd'"),
    (("algorithms.0.optimizer.momentum", 1.5), "algorithms[0].optimizer.momentum", "< 1"),
    (("algorithms.0.optimizer.nesterov", 1), "algorithms[0].optimizer.nesterov", "a boolean"),
    (("algorithms.0.optimizer.mask", 1.0), "algorithms[0].optimizer.mask", "unknown key"),
    (("algorithms.0.optimizer.momentun", 0.9), "optimizer.momentun", "did you mean 'momentum'"),
    (("algorithms.0.grid.learning_rate", [-1.0]), "grid.learning_rate", "expected a number > 0"),
    (("algorithms.0.grid.learning_rate", None), "optimizer.learning_rate", "missing; expected"),
    (("algorithms.0.optimizer.learning_rate", 0.1), "grid.learning_rate", "both fixed and swept"),
    (("algorithms.0.step_size", 0.1), "algorithms[0].step_size", "exclude each other"),
    (("algorithms.0.grid.step_size", [0.1]), "grid.step_size", "replaced by the optimizer"),
    (("algorithms.0.grid.b1", [0.9]), "grid.b1", "unknown grid axis 'b1'"),
    (("algorithms.0.relative_to_theory", True), "relative_to_theory", "no optimizer arguments"),
    (("algorithms.0.name", "a2cid2"), "algorithms[0].optimizer", "a2cid2 takes no optimizer"),
    (("num_rounds", 60), "num_rounds", "applies only to synchronous algorithms"),
]


@pytest.mark.parametrize("change, key, message", BAD, ids=[c[0][0] for c in BAD])
def test_bad_keys_name_the_key_path(change, key, message):
    with pytest.raises(ExperimentError) as error:
        parse_experiment(_config(change), file="f.toml")
    text = str(error.value)
    assert text.startswith("f.toml: ") and f"{key}: " in text and message in text, text
    assert "\n" not in text


SYNC = {"name": "dsgd", "step_size": 0.1}


def test_synchronous_methods_need_num_rounds():
    config = _config(("algorithms", [*BASE["algorithms"], SYNC]))
    with pytest.raises(ExperimentError, match=r"num_rounds: missing.*dsgd.*e\.g\. num_rounds = "):
        parse_experiment(config, file="f.toml")
    config["num_rounds"] = 25
    with pytest.raises(ExperimentError, match="num_rounds: expected a multiple > 0 of num_records"):
        parse_experiment(config, file="f.toml")
    config["num_rounds"] = 30
    assert parse_experiment(config, file="f.toml").num_rounds == 30
    config["algorithms"][1]["grid"] = {"comm_rate": [1.0]}
    with pytest.raises(ExperimentError, match="algorithms.1..grid.comm_rate: dsgd is synchronous"):
        parse_experiment(config, file="f.toml")


def test_learning_keys_on_convex_problems_are_refused():
    config = {
        "num_events": 100,
        "problem": {"kind": "quadratic", "num_nodes": 4, "dim": 2, "split": "iid"},
        "graph": {"kind": "ring"},
        "algorithms": [{"name": "gossip"}],
    }
    with pytest.raises(ExperimentError, match='problem.split: split applies only to kind = "sup'):
        parse_experiment(config, file="f.toml")
    del config["problem"]["split"]
    config["metric"] = "test_accuracy"
    with pytest.raises(ExperimentError, match='learning metrics are recorded by kind = "super'):
        parse_experiment(config, file="f.toml")
    config["metric"] = "consensus"
    assert parse_experiment(config, file="f.toml").eps == 1e-3  # the convex default


def test_the_optimizer_grid_builds_sweepable_optimizers():
    experiment = parse_experiment(_config(("algorithms.0.optimizer.nesterov", True)), file="f.toml")
    problem = build_problem(experiment)
    assert problem.num_nodes == 3 and problem.dim == 4 * 3 + 3  # a linear model of iris
    spec = experiment.algorithms[0]
    clocks = build_network(experiment, jg.graphs.ring(3), "events")
    build, grid, values = configure_algorithm(experiment, spec, problem, clocks)
    assert grid == {"learning_rate": [0.05, 0.5]}
    assert values == {"optimizer": "sgd", "optimizer.momentum": 0.5, "optimizer.nesterov": True}
    algorithm = build(learning_rate=0.3)
    assert algorithm.step_size is None
    local = algorithm.optimizer
    np.testing.assert_allclose(
        [local.hyperparams["learning_rate"], local.hyperparams["momentum"]], [0.3, 0.5], rtol=1e-6
    )
    assert dict(local.options) == {"nesterov": True}
    with pytest.raises(ValueError, match="learning_rate must be finite"):
        build(learning_rate=float("inf"))


def _write(tmp_path, config, name="experiment.toml"):
    """``config`` (a dict of scalars, lists and tables) as a TOML file."""
    lines, tables = [], []
    for key, value in config.items():
        (tables if isinstance(value, (dict, list)) and _has_tables(value) else lines).append(key)
    text = [f"{key} = {_toml(config[key])}" for key in lines]
    for key in tables:
        value = config[key]
        for entry in value if isinstance(value, list) else [value]:
            text.append(f"\n[{'[' * isinstance(value, list)}{key}{']' * isinstance(value, list)}]")
            text += [f"{k} = {_toml(v)}" for k, v in entry.items()]
    path = tmp_path / name
    path.write_text("\n".join(text) + "\n")
    return path


def _has_tables(value):
    return isinstance(value, dict) or (bool(value) and isinstance(value[0], dict))


def _toml(value):
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


def test_from_theory_on_a_learning_problem_is_a_one_line_error(tmp_path, capsys):
    config = _config(("algorithms", [{"name": "a2cid2", "step_size": 0.1, "eta": 1.0}]))
    path = _write(tmp_path, config)
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("jaxgossip run: error: ") and "algorithms[0]: a2cid2.from_theory" in line
    assert "learning problem" in line and "set alpha, alpha_tilde, momentum" in line
    assert "Traceback" not in captured.err and not (tmp_path / "out").exists()

    config = _config(("algorithms", [{"name": "async_gossip_sgd"}]))
    assert main(["run", str(_write(tmp_path, config)), "--out", str(tmp_path / "out")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "set step_size (or an [algorithms.optimizer] table)" in line


def test_a_tiny_supervised_experiment_runs_end_to_end(tmp_path, capsys):
    config = _config(
        ("num_rounds", 30),
        ("algorithms", [*BASE["algorithms"], {"name": "all_reduce_sgd", "step_size": 0.5}]),
        ("output", {"figures": True}),
    )
    path, out = _write(tmp_path, config), tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "x 600 events" in printed and "x 30 rounds" in printed
    assert "final test_accuracy" in printed and "test_accuracy >= ε" in printed
    assert "time: rounds for synchronous methods" in printed
    ds = load_sweep(out / "ring__async_gossip_sgd.npz")
    assert ds["test_accuracy"].dims == ("learning_rate", "seed", "record")
    assert ds.attrs["metric"] == "test_accuracy" and ds.attrs["eps"] == 0.6
    assert json.loads(ds.attrs["metric_goals"])["test_accuracy"] == "max"
    assert json.loads(ds.attrs["hyperparameters"])["optimizer.momentum"] == 0.5
    assert "L" not in json.loads(ds.attrs["problem"])  # a learning problem has no L
    assert float(ds["test_accuracy"].sel(learning_rate=0.5).isel(record=-1).max()) > 0.6
    rounds = load_sweep(out / "ring__all_reduce_sgd.npz")
    assert int(rounds["num_computations"].isel(record=-1).max()) == 30 * 3  # n per round
    assert (out / "ring.png").read_bytes()[:4] == b"\x89PNG"
    row = next(line for line in printed.splitlines() if "async_gossip_sgd" in line.split())
    assert "learning_rate=0.5" in row  # the faster rate reaches 0.6 first
    # `jaxgossip plot` draws the target metric of the sweep.
    assert main(["plot", str(out / "ring__async_gossip_sgd.npz")]) == 0
    assert (out / "ring__async_gossip_sgd.png").exists()


TRADEOFF = {
    "seeds": 1,
    "eps": 0.6,
    "ratios": [0.5, 2.0],
    "events_per_chunk": 200,
    "records_per_chunk": 4,
    "max_chunks": 3,
    "problem": BASE["problem"],
    "graph": {"kind": "ring"},
}


def test_tradeoff_files_take_learning_problems_and_algorithm_tables(tmp_path, capsys):
    tables = [
        {"name": "async_gossip_sgd", "label": "sgd", "step_size": 0.3},
        {"name": "ad_psgd", "optimizer": {"name": "adam", "learning_rate": 0.01}},
    ]
    config = parse_config({**TRADEOFF, "algorithms": tables}, file="t.toml")
    assert config.metric == "test_accuracy" and [a.label for a in config.algorithms] == [
        "sgd",
        "ad_psgd",
    ]
    assert config.algorithms[1].optimizer.args == {"learning_rate": 0.01}
    for change, key, message in [
        ({"grid": {"step_size": [0.1]}}, "algorithms[0].grid", "unknown key 'grid'"),
        ({"name": "dsgd"}, "algorithms[0]", "dsgd is synchronous"),
        ({"labl": "x"}, "algorithms[0].labl", "did you mean 'label'"),
    ]:
        with pytest.raises(ExperimentError) as error:
            parse_config({**TRADEOFF, "algorithms": [{**tables[0], **change}]}, file="t.toml")
        assert str(error.value).startswith(f"t.toml: {key}: ") and message in str(error.value)
    # A name alone is from_theory, which a learning problem lacks: refused before any run.
    path = _write(tmp_path, {**TRADEOFF, "algorithms": ["async_gossip_sgd"]}, "t.toml")
    assert main(["tradeoff", str(path), "--out", str(tmp_path / "out")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "algorithms[0]: async_gossip_sgd.from_theory" in line and "[[algorithms]] table" in line
    assert not (tmp_path / "out").exists()
