"""examples/decentralized_digits.py: its --quick run writes the figure and a table of every
method (about 40 s, nearly all of it compiling five programs), and its clocks give every
node the communication rate asked for."""

import importlib.util
import pathlib

import numpy as np
import pytest

import jaxgossip as jg

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "decentralized_digits.py"
pytest.importorskip("sklearn")  # the digits ship with scikit-learn


def load_example():
    spec = importlib.util.spec_from_file_location("decentralized_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_the_figure_and_tables_every_method(tmp_path, capsys):
    # In this process rather than a fresh one: importing jaxgossip alone takes ~5 s.
    example = load_example()
    assert example.main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    figure = tmp_path / "decentralized_digits.png"
    assert figure.stat().st_size > 10_000
    table = out.split("\nsplit ", 1)[1]  # the table, after the run log
    rows = [line.split() for line in table.splitlines() if line.startswith("dirichlet")]
    methods = [" ".join(row[4:-9]) for row in rows]
    assert sorted(set(methods)) == sorted(example.METHODS)
    # Two comm rates for each event method, one run of each round method.
    assert len(rows) == 2 * 3 + 2
    finals = np.array([float(row[-9]) for row in rows])
    assert np.all((finals >= 0.0) & (finals <= 1.0))


@pytest.mark.parametrize("kind", ["ring", "exponential"])
@pytest.mark.parametrize("num_nodes", [16, 64])
def test_edge_rates_give_every_node_the_comm_rate(kind, num_nodes):
    example = load_example()
    graph = jg.graphs.exponential(num_nodes)
    rates = example.edge_rates(graph, kind, 0.5)
    senders, receivers = np.asarray(graph.senders), np.asarray(graph.receivers)
    per_node = np.bincount(senders, rates, num_nodes) + np.bincount(receivers, rates, num_nodes)
    np.testing.assert_allclose(per_node, 0.5, rtol=1e-12, atol=0)
    if kind == "ring":  # exactly the ring's n edges carry traffic
        assert np.count_nonzero(rates) == num_nodes
        gaps = (receivers - senders)[rates > 0] % num_nodes
        assert set(gaps.tolist()) <= {1, num_nodes - 1}
