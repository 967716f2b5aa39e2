import dataclasses
import json
import os
import pathlib
import shutil
import sys

import equinox as eqx
import jax
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms import hyperparameter
from jaxgossip.cli.experiment import (
    ExperimentError,
    build_problem,
    configure_algorithm,
    load_experiment,
    output_paths,
    run_experiment,
    summary_table,
)
from jaxgossip.cli.main import main
from jaxgossip.study.sweep import load_sweep

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Experiment files; tradeoff_*.toml are trade-off explorer configs (tests/cli/test_tradeoff_cli.py).
EXAMPLES = sorted(
    p for p in (ROOT / "examples").glob("*.toml") if not p.stem.startswith("tradeoff")
)
SMALL_LIBSVM = ROOT / "tests" / "data" / "small.libsvm"

TINY = """
name = "tiny"
seeds = 2
num_events = 2_000
num_records = 10
eps = 0.5

[problem]
kind = "quadratic"
num_nodes = 6
dim = 3
kappa = 4.0
heterogeneity = 0.2

[[graphs]]
kind = "ring"

[[graphs]]
kind = "complete"
label = "full"

[clocks]
compute_rate = 1.0
comm_rate = 1.0

[[algorithms]]
name = "async_gossip_sgd"
label = "sgd"
[algorithms.grid]
step_size = [0.03, 0.1, 5.0]

[[algorithms]]
name = "async_gossip_sgd"
label = "sgd_theory"
"""


def _write(tmp_path, text, name="experiment.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_shipped_examples_validate(path):
    experiment = load_experiment(path)
    assert experiment.name == path.stem
    assert experiment.num_events % experiment.num_records == 0
    assert experiment.graphs and experiment.algorithms
    assert all(name.startswith(experiment.output_dir) for name in output_paths(experiment))


def test_examples_are_shipped():
    assert {p.stem for p in EXAMPLES} >= {
        "step_size_sweep",
        "rate_ratio_sweep",
        "graph_comparison",
    }


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One CLI run of TINY: 2 graphs x 2 algorithms (compilation dominates its cost)."""
    folder = tmp_path_factory.mktemp("tiny")
    path = _write(folder, TINY)
    out = folder / "out"
    code = main(["run", str(path), "--out", str(out)])
    assert code == 0
    return path, out


def test_run_writes_results_that_load_back(tiny_run, capsys):
    path, out = tiny_run
    assert sorted(os.listdir(out)) == sorted(
        [
            "ring__sgd.npz",
            "ring__sgd_theory.npz",
            "full__sgd.npz",
            "full__sgd_theory.npz",
            "ring.png",
            "full.png",
            "sgd__by_graph.png",
            "sgd_theory__by_graph.png",
            "summary.txt",
        ]
    )
    ds = load_sweep(out / "ring__sgd.npz")
    assert ds["suboptimality"].dims == ("step_size", "seed", "record")
    assert ds["suboptimality"].shape == (3, 2, 11)
    np.testing.assert_allclose(ds["step_size"].values, [0.03, 0.1, 5.0], rtol=1e-12)
    assert ds.attrs["graph"] == "ring" and ds.attrs["algorithm"] == "sgd"
    assert ds.attrs["algorithm_name"] == "async_gossip_sgd"
    assert np.all(ds["num_computations"][..., -1] + ds["num_communications"][..., -1] == 2000)
    assert bool(ds["diverged"].sel(step_size=5.0).any())  # 5 > 2 / L = 0.5
    # No grid: theory's step size, recorded with the results.
    theory = load_sweep(out / "full__sgd_theory.npz")
    assert theory["suboptimality"].dims == ("seed", "record")
    problem = build_problem(load_experiment(path))
    step = 0.5 / float(problem.L)
    values = json.loads(theory.attrs["hyperparameters"])
    np.testing.assert_allclose(values["step_size"], step, rtol=1e-6)
    with open(out / "ring.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"

    results = {
        f"{g}__{a}": load_sweep(out / f"{g}__{a}.npz")
        for g in ("ring", "full")
        for a in ("sgd", "sgd_theory")
    }
    table = summary_table(results, 0.5)
    assert table + "\n" == (out / "summary.txt").read_text()
    lines = table.splitlines()
    assert "best settings" in lines[0] and "computations to ε" in lines[0]
    rows = {tuple(line.split()[:2]): line for line in lines[2:6]}
    assert set(rows) == {
        ("ring", "sgd"),
        ("ring", "sgd_theory"),
        ("full", "sgd"),
        ("full", "sgd_theory"),
    }
    assert "step_size=" in rows[("ring", "sgd")] and rows[("ring", "sgd")].endswith("1/3")


def test_run_prints_the_table_and_the_folder(tmp_path, capsys):
    path = _write(
        tmp_path,
        TINY.split('[[graphs]]\nkind = "complete"')[0] + '[[algorithms]]\nname = "gossip"\n',
    )
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "[1/1] ring x gossip" in out
    assert "computations to ε" in out
    assert any(line.split()[:2] == ["ring", "gossip"] for line in out.splitlines())
    assert f"results saved in {tmp_path / 'o'}" in out


def test_run_refuses_to_overwrite(tiny_run, capsys):
    path, out = tiny_run
    before = {name: os.path.getmtime(out / name) for name in os.listdir(out)}
    assert main(["run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--overwrite" in err and "ring__sgd.npz" in err and "Traceback" not in err
    assert {name: os.path.getmtime(out / name) for name in os.listdir(out)} == before
    # The API names every existing file and runs nothing.
    experiment = load_experiment(path)
    experiment = dataclasses.replace(experiment, output_dir=str(out))
    with pytest.raises(FileExistsError) as error:
        run_experiment(experiment, progress=None)
    for name in ("ring__sgd.npz", "full__sgd_theory.npz", "full.png", "summary.txt"):
        assert name in str(error.value)
    assert {name: os.path.getmtime(out / name) for name in os.listdir(out)} == before


def test_run_overwrites_when_asked(tmp_path, capsys):
    text = TINY.replace('[[graphs]]\nkind = "complete"\nlabel = "full"\n', "")
    path = _write(tmp_path, text + "\n[output]\nfigures = false\n")
    out = tmp_path / "out"
    assert main(["run", str(path), "--out", str(out)]) == 0
    (out / "ring__sgd.npz").write_bytes(b"stale")
    (out / "unrelated.txt").write_text("kept")
    assert main(["run", str(path), "--out", str(out), "--overwrite"]) == 0
    assert load_sweep(out / "ring__sgd.npz")["suboptimality"].shape == (3, 2, 11)
    assert (out / "unrelated.txt").read_text() == "kept"
    assert not (out / "ring.png").exists()


def test_plot_command(tiny_run, tmp_path, capsys):
    _, out = tiny_run
    figure = tmp_path / "sweep.png"
    assert main(["plot", str(out / "ring__sgd.npz"), "--out", str(figure)]) == 0
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["plot", str(out / "ring__sgd.npz"), "--out", str(figure)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["plot", str(out / "ring__sgd.npz"), "--out", str(figure), "--overwrite"]) == 0

    # A traces file, as `jaxgossip demo` writes.
    problem = jg.problems.quadratic(jax.random.key(0), 4, 2)
    clocks = jg.Clocks(jg.graphs.ring(4))
    trace = jg.simulate(
        jax.random.key(1), jg.algorithms.Gossip(), problem, clocks, num_events=100, num_records=10
    )
    jg.save_traces(tmp_path / "traces.npz", {"gossip": trace})
    assert main(["plot", str(tmp_path / "traces.npz"), "--metric", "consensus"]) == 0
    assert (tmp_path / "traces.png").exists()

    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    assert main(["plot", str(tmp_path / "other.npz")]) == 2
    assert "neither a jaxgossip sweep nor a traces file" in capsys.readouterr().err


def test_relative_to_theory_and_fixed_values(tmp_path):
    text = TINY + "relative_to_theory = true\nstep_size = 0.5\n"
    text += '\n[[algorithms]]\nname = "async_gossip_sgd"\nlabel = "rel_grid"\n'
    text += "relative_to_theory = true\ngrid = { step_size = [0.5, 2.0], comm_rate = [3.0] }\n"
    experiment = load_experiment(_write(tmp_path, text))
    problem = build_problem(experiment)
    clocks = jg.Clocks(jg.graphs.ring(6))
    theory = 0.5 / float(problem.L)
    _, grid, values = configure_algorithm(experiment, experiment.algorithms[1], problem, clocks)
    assert grid == {}
    np.testing.assert_allclose(values["step_size"], 0.5 * theory, rtol=1e-6)
    _, grid, values = configure_algorithm(experiment, experiment.algorithms[2], problem, clocks)
    np.testing.assert_allclose(grid["step_size"], [0.5 * theory, 2 * theory], rtol=1e-6)
    assert grid["comm_rate"] == [3.0]  # rates already multiply the [clocks] rates
    assert values == {}


def test_libsvm_data_resolved_next_to_the_file(tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(SMALL_LIBSVM, tmp_path / "data" / "small.libsvm")
    text = TINY.replace(
        'kind = "quadratic"\nnum_nodes = 6\ndim = 3\nkappa = 4.0\nheterogeneity = 0.2',
        'kind = "logistic_regression"\nnum_nodes = 3\ndata = "data/small.libsvm"\n'
        "iid = false\nreg = 0.1",
    ).replace('kind = "complete"\nlabel = "full"', 'kind = "path"')
    experiment = load_experiment(_write(tmp_path, text))
    assert experiment.problem.data == str(tmp_path / "data" / "small.libsvm")
    problem = build_problem(experiment)
    assert (problem.num_nodes, problem.num_samples, problem.dim) == (3, 4, 4)
    # Split by label: the first node holds only -1s, the last only +1s.
    assert set(np.asarray(problem.labels[0]).tolist()) == {-1.0}
    assert set(np.asarray(problem.labels[-1]).tolist()) == {1.0}
    # Standardized over the whole file.
    features = np.asarray(problem.features, np.float64).reshape(-1, 4)
    np.testing.assert_allclose(features.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(features.std(axis=0), 1.0, rtol=1e-5)


def test_least_squares_synthetic_and_sklearn_missing(tmp_path, monkeypatch):
    text = TINY.replace('kind = "quadratic"', 'kind = "least_squares"').replace(
        "kappa = 4.0\n", "samples_per_node = 5\nnoise = 0.0\n"
    )
    problem = build_problem(load_experiment(_write(tmp_path, text)))
    assert (problem.num_nodes, problem.num_samples, problem.dim) == (6, 5, 3)
    text = TINY.replace(
        'kind = "quadratic"\nnum_nodes = 6\ndim = 3\nkappa = 4.0\nheterogeneity = 0.2',
        'kind = "logistic_regression"\nnum_nodes = 6\ndata = "sklearn:breast_cancer"',
    )
    path = _write(tmp_path, text, "sk.toml")
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ExperimentError) as error:
        build_problem(load_experiment(path))
    assert str(error.value).startswith(f"{path}: problem.data: ")
    assert "pip install scikit-learn" in str(error.value)


# (replace this, with that, key path, expected words): each is one error of TINY.
ERRORS = [
    ("num_records = 10", "num_record = 10", "num_record", "did you mean 'num_records'"),
    (
        'label = "sgd"\n',
        'label = "sgd"\nsetp_size = 0.1\n',
        "algorithms[0].setp_size",
        "did you mean 'step_size'",
    ),
    ("step_size = [", "setp_size = [", "algorithms[0].grid.setp_size", "did you mean 'step_size'"),
    ("[clocks]", "[clokcs]", "clokcs", "did you mean 'clocks'"),
    ("kappa = 4.0", "kapa = 4.0", "problem.kapa", "did you mean 'kappa'"),
    (
        'name = "async_gossip_sgd"\nlabel = "sgd"',
        'name = "async_gosip_sgd"\nlabel = "sgd"',
        "algorithms[0].name",
        "did you mean 'async_gossip_sgd'",
    ),
    ('kind = "ring"', 'kind = "rign"', "graphs[0].kind", "did you mean 'ring'"),
    (
        'kind = "ring"',
        'kind = "ring"\nn = 5',
        "graphs[0]",
        "the graph has 5 nodes, not num_nodes = 6",
    ),
    (
        'kind = "ring"',
        'kind = "random_geometric"\nradious = 0.5',
        "graphs[0].radious",
        "did you mean 'radius'",
    ),
    (
        'kind = "ring"',
        'kind = "erdos_renyi"\np = "high"',
        "graphs[0].p",
        "expected a number, got 'high' (a string)",
    ),
    ('label = "full"', 'label = "ring"', "graphs[1].label", "already used by graphs[0]"),
    ('label = "sgd_theory"', 'label = "a/b"', "algorithms[1].label", "it names files"),
    ("num_events = 2_000", "num_events = 0", "num_events", "expected an integer > 0, got 0"),
    (
        "num_events = 2_000",
        "num_events = 2_005",
        "num_events",
        "expected a multiple of num_records = 10",
    ),
    (
        "num_events = 2_000",
        "num_events = 2e3",
        "num_events",
        "expected an integer, got 2000.0 (a float)",
    ),
    ("num_events = 2_000\n", "", "num_events", "missing; expected an integer"),
    ("seeds = 2", "seeds = 0", "seeds", "expected an integer >= 1"),
    ("eps = 0.5", "eps = -1", "eps", "expected a number > 0"),
    ("comm_rate = 1.0", "comm_rate = -2.0", "clocks.comm_rate", "expected a rate >= 0, got -2.0"),
    (
        "comm_rate = 1.0",
        "comm_rate = true",
        "clocks.comm_rate",
        "expected a number, got True (a boolean)",
    ),
    (
        "step_size = [0.03, 0.1, 5.0]",
        "step_size = [0.03, 0.1, 5.0]\ncomm_rate = [1.0, -1.0]",
        "algorithms[0].grid.comm_rate",
        "rate multipliers >= 0",
    ),
    (
        "step_size = [0.03, 0.1, 5.0]",
        "step_size = 0.1",
        "algorithms[0].grid.step_size",
        "expected a non-empty array of numbers",
    ),
    (
        "step_size = [0.03, 0.1, 5.0]",
        'step_size = [0.1, "x"]',
        "algorithms[0].grid.step_size",
        "expected an array of numbers, got 'x'",
    ),
    (
        "step_size = [0.03, 0.1, 5.0]",
        "step_size = [0.1, 0.1]",
        "algorithms[0].grid.step_size",
        "distinct",
    ),
    (
        'label = "sgd"\n',
        'label = "sgd"\nstep_size = 0.1\n',
        "algorithms[0].grid.step_size",
        "both fixed and swept",
    ),
    (
        'label = "sgd_theory"',
        'label = "sgd_theory"\nstep_size = "big"',
        "algorithms[1].step_size",
        "expected a number, got 'big'",
    ),
    ('kind = "quadratic"', 'kind = "quadratik"', "problem.kind", "did you mean 'quadratic'"),
    (
        'kind = "quadratic"',
        'knid = "quadratic"',
        "problem.kind",
        "is 'knid' a misspelling of 'kind'?",
    ),
    ("num_nodes = 6", "num_nodes = 1", "problem.num_nodes", "expected an integer >= 2"),
    ("kappa = 4.0", "kappa = 0.5", "problem.kappa", "expected a value >= 1"),
    (
        "kappa = 4.0",
        "samples_per_node = 5",
        "problem.samples_per_node",
        "does not apply to quadratic",
    ),
    ("kappa = 4.0", 'data = "x.libsvm"', "problem.data", "quadratic problems are synthetic"),
    ("dim = 3", "", "problem.dim", "missing"),
    (
        'kind = "quadratic"\nnum_nodes = 6\ndim = 3\nkappa = 4.0',
        'kind = "logistic_regression"\nnum_nodes = 6\ndata = "nowhere.libsvm"',
        "problem.data",
        "no file",
    ),
    (
        'kind = "quadratic"\nnum_nodes = 6\ndim = 3\nkappa = 4.0\nheterogeneity = 0.2',
        'kind = "logistic_regression"\nnum_nodes = 6\ndata = "sklearn:iris"\niid = 3',
        "problem.iid",
        "expected a boolean, got 3",
    ),
    (
        'kind = "quadratic"\nnum_nodes = 6\ndim = 3\nkappa = 4.0',
        'kind = "logistic_regression"\nnum_nodes = 6\ndim = 3\niid = false',
        "problem.iid",
        "applies only to real data",
    ),
    (
        'kind = "quadratic"\nnum_nodes = 6\ndim = 3\nkappa = 4.0\nheterogeneity = 0.2',
        'kind = "logistic_regression"\nnum_nodes = 6\ndata = "sklearn:brest_cancer"',
        "problem.data",
        "did you mean 'sklearn:breast_cancer'",
    ),
    (
        '[[graphs]]\nkind = "ring"',
        '[graph]\nkind = "path"\n[[graphs]]\nkind = "ring"',
        "graphs",
        "not both",
    ),
    (
        "num_events = 2_000",
        "num_events = 2_000\n[output]\ndir = 3",
        "output.dir",
        "expected a string, got 3",
    ),
    ("[problem]", "[problem\n", "", "invalid TOML"),
]


@pytest.mark.parametrize("old, new, key, expected", ERRORS, ids=[e[2] or "toml" for e in ERRORS])
def test_errors_name_file_key_and_expectation(tmp_path, old, new, key, expected):
    assert old in TINY
    path = _write(tmp_path, TINY.replace(old, new, 1))
    with pytest.raises(ExperimentError) as error:
        load_experiment(path)
    message = str(error.value)
    assert error.value.file == str(path) and error.value.key == key
    assert message.startswith(f"{path}: {key}: " if key else f"{path}: ")
    assert expected in message


def test_cli_run_reports_a_bad_file_without_traceback(tmp_path, capsys):
    path = _write(tmp_path, TINY.replace("step_size = [", "setp_size = ["))
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxgossip run: error: ")
    assert "algorithms[0].grid.setp_size" in err and "did you mean 'step_size'" in err
    assert "Traceback" not in err and not (tmp_path / "out").exists()
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_logistic_multiclass_needs_positive_class(tmp_path):
    lines = SMALL_LIBSVM.read_text().replace("+1 4:3", "2 4:3")
    (tmp_path / "three.libsvm").write_text(lines)
    base = TINY.replace(
        'kind = "quadratic"\nnum_nodes = 6\ndim = 3\nkappa = 4.0\nheterogeneity = 0.2',
        'kind = "logistic_regression"\nnum_nodes = 3\ndata = "three.libsvm"',
    )
    path = _write(tmp_path, base)
    with pytest.raises(
        ExperimentError, match=r"problem\.data: .*needs 2 classes.*has 3 .*positive_class"
    ):
        build_problem(load_experiment(path))
    path = _write(tmp_path, base.replace('three.libsvm"', 'three.libsvm"\npositive_class = 2'))
    problem = build_problem(load_experiment(path))
    assert float(np.sum(np.asarray(problem.labels) == 1.0)) == 1.0


class _WithEdges(jg.algorithms.Algorithm):
    """An algorithm whose __init__ takes a graph, not its fields: built from theory's."""

    senders: jax.Array  # (E,) int32
    step_size: jax.Array = eqx.field(converter=hyperparameter)
    momentum: jax.Array = eqx.field(converter=hyperparameter)

    def __init__(self, graph, step_size, momentum=0.0):
        self.senders = graph.senders
        self.step_size = step_size
        self.momentum = momentum

    @classmethod
    def from_theory(cls, problem, clocks):
        return cls(clocks.graph, 0.5 / problem.L, 0.25)


class _NoTheory(jg.algorithms.AsyncGossipSGD):
    @classmethod
    def from_theory(cls, problem, clocks):
        raise NotImplementedError


def test_algorithms_with_custom_init_or_without_theory(tmp_path, monkeypatch):
    monkeypatch.setitem(jg.algorithms.REGISTRY, "with_edges", _WithEdges)
    monkeypatch.setitem(jg.algorithms.REGISTRY, "no_theory", _NoTheory)
    text = TINY + '\n[[algorithms]]\nname = "with_edges"\nmomentum = 0.5\n'
    text += "grid = { step_size = [0.1, 0.2] }\n"
    text += '\n[[algorithms]]\nname = "no_theory"\nstep_size = 0.1\n'
    text += '\n[[algorithms]]\nname = "no_theory"\nlabel = "no_step"\n'
    experiment = load_experiment(_write(tmp_path, text))
    problem = build_problem(experiment)
    clocks = jg.Clocks(jg.graphs.ring(6))
    build, grid, values = configure_algorithm(experiment, experiment.algorithms[2], problem, clocks)
    assert grid == {"step_size": [0.1, 0.2]} and values == {"momentum": 0.5}
    algorithm = build(step_size=0.2)
    assert isinstance(algorithm, _WithEdges)
    np.testing.assert_array_equal(algorithm.senders, clocks.graph.senders)
    np.testing.assert_allclose([algorithm.step_size, algorithm.momentum], [0.2, 0.5], rtol=1e-6)
    # Every hyperparameter given: no theory needed.
    build, _, values = configure_algorithm(experiment, experiment.algorithms[3], problem, clocks)
    assert values == pytest.approx({"step_size": 0.1}) and isinstance(build(), _NoTheory)
    with pytest.raises(ExperimentError, match=r"algorithms\[4\]: no_theory has no from_theory"):
        configure_algorithm(experiment, experiment.algorithms[4], problem, clocks)
