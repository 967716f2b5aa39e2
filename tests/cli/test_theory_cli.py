import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.cli.main import main
from jaxgossip.network.factory import make_graph
from jaxgossip.theory import format_table, graph_constants


@pytest.mark.parametrize("n", [3, 5, 8])
def test_complete_graph_closed_forms(n):
    c = graph_constants(jg.graphs.complete(n))
    assert c["num_nodes"] == n and c["num_edges"] == n * (n - 1) // 2
    np.testing.assert_allclose(c["lambda_2"], n, rtol=1e-12)
    np.testing.assert_allclose(c["lambda_max"], n, rtol=1e-12)
    np.testing.assert_allclose(c["spectral_gap"], 1.0, rtol=1e-12)
    np.testing.assert_allclose(c["chi1"], 1 / n, rtol=1e-12)
    # Effective resistance of an edge of K_n is 2 / n.
    np.testing.assert_allclose(c["chi2"], 1 / n, rtol=1e-12)
    np.testing.assert_allclose(c["gossip_rate"], n / 2, rtol=1e-12)


@pytest.mark.parametrize("n", [4, 7, 32])
def test_ring_closed_forms(n):
    c = graph_constants(jg.graphs.ring(n))
    lambda_2 = 2 - 2 * np.cos(2 * np.pi / n)
    np.testing.assert_allclose(c["lambda_2"], lambda_2, rtol=1e-10)
    np.testing.assert_allclose(
        c["lambda_max"], 2 - 2 * np.cos(2 * np.pi * (n // 2) / n), rtol=1e-10
    )
    np.testing.assert_allclose(c["chi1"], 1 / lambda_2, rtol=1e-10)
    # An edge of the ring is a unit resistor in parallel with a path of n - 1 of them.
    np.testing.assert_allclose(c["chi2"], (n - 1) / (2 * n), rtol=1e-10)
    np.testing.assert_allclose(c["gossip_rate"], lambda_2 / 2, rtol=1e-10)


def test_star_and_rate_scaling():
    c = graph_constants(jg.graphs.star(6))
    np.testing.assert_allclose([c["lambda_2"], c["lambda_max"]], [1.0, 6.0], rtol=1e-12)
    np.testing.assert_allclose(c["chi2"], 0.5, rtol=1e-12)
    # Rates are conductances: scaling them all by 3 scales lambda by 3 and chi by 1/3.
    graph = jg.graphs.torus(3, 4)
    base, fast = graph_constants(graph), graph_constants(graph, comm_rate=3.0)
    np.testing.assert_allclose(fast["lambda_2"], 3 * base["lambda_2"], rtol=1e-10)
    np.testing.assert_allclose(fast["chi2"], base["chi2"] / 3, rtol=1e-10)
    np.testing.assert_allclose(fast["spectral_gap"], base["spectral_gap"], rtol=1e-10)
    assert base["chi2"] <= base["chi1"]


def test_per_edge_rates_and_disconnection():
    graph = jg.graphs.path(4)  # edges (0,1), (1,2), (2,3)
    rates = np.array([1.0, 2.0, 4.0])
    c = graph_constants(graph, rates)
    np.testing.assert_allclose(
        c["lambda_2"], np.linalg.eigvalsh(jg.graphs.laplacian(graph, rates))[1]
    )
    # A path of conductances: the effective resistance of an edge is 1 / rate.
    np.testing.assert_allclose(c["chi2"], 0.5, rtol=1e-12)
    with pytest.raises(ValueError, match="do not connect"):
        graph_constants(graph, [1.0, 0.0, 1.0])


def test_format_table():
    text = format_table({"lambda_2": 0.123456789, "num_nodes": 8, "other": "x"})
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["lambda_2", "0.123457"]
    assert lines[1].split()[:2] == ["num_nodes", "8"]
    assert "second-smallest eigenvalue" in lines[0]
    assert lines[2].split() == ["other", "x"]


def test_make_graph_fills_sizes_from_num_nodes():
    assert make_graph("torus", num_nodes=16).num_edges == 32
    assert make_graph("hypercube", num_nodes=8).num_edges == 12
    assert make_graph("grid", num_nodes=12, rows=3).num_edges == 3 * 3 + 2 * 4
    assert make_graph("barbell", num_nodes=10, path_length=2).num_nodes == 10
    assert make_graph("erdos_renyi", num_nodes=10, p=0.5).num_nodes == 10
    with pytest.raises(ValueError, match="not a square"):
        make_graph("torus", num_nodes=12)
    with pytest.raises(ValueError, match="the graph has 5 nodes, not num_nodes = 6"):
        make_graph("ring", num_nodes=6, n=5)
    with pytest.raises(ValueError, match="did you mean 'radius'"):
        make_graph("random_geometric", num_nodes=6, radious=0.5)
    with pytest.raises(ValueError, match="did you mean 'ring'"):
        make_graph("rign", num_nodes=6)


def test_cli_theory_prints_the_constants(capsys):
    assert main(["theory", "--graph", "complete", "--nodes", "6"]) == 0
    out = capsys.readouterr().out
    values = {line.split()[0]: line.split()[1] for line in out.splitlines()[2:] if line.strip()}
    assert float(values["lambda_2"]) == pytest.approx(6.0, rel=1e-6)
    assert float(values["chi1"]) == pytest.approx(1 / 6, rel=1e-5)
    assert "complete: 6 nodes, 15 edges" in out

    assert main(["theory", "--graph", "ring", "--nodes", "32", "--comm-rate", "2"]) == 0
    out = capsys.readouterr().out
    values = {line.split()[0]: line.split()[1] for line in out.splitlines()[2:] if line.strip()}
    expected = 2 * (2 - 2 * np.cos(2 * np.pi / 32))
    assert float(values["lambda_2"]) == pytest.approx(expected, rel=1e-5)
    assert float(values["gossip_rate"]) == pytest.approx(expected / 2, rel=1e-5)


def test_cli_theory_graph_args_and_errors(capsys):
    assert main(["theory", "--graph", "hypercube", "--graph-arg", "dim=3"]) == 0
    assert "8 nodes, 12 edges" in capsys.readouterr().out
    assert main(["theory", "--graph", "erdos_renyi", "--nodes", "12", "--graph-arg", "p=0.4"]) == 0
    capsys.readouterr()
    assert main(["theory", "--graph", "ring", "--nodes", "8", "--graph-arg", "m=3"]) == 2
    assert "unknown argument 'm'" in capsys.readouterr().err
    assert main(["theory", "--graph", "ring"]) == 2
    assert "ring needs n" in capsys.readouterr().err
    assert main(["theory", "--graph", "rign", "--nodes", "8"]) == 2
    assert main(["theory", "--graph", "ring", "--nodes", "8", "--graph-arg", "n"]) == 2
    assert main(["theory", "--graph", "ring", "--nodes", "8", "--comm-rate", "-1"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'rign'" in err and "NAME=VALUE" in err and "rate > 0" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["theory", "run", "plot", "demo"])
def test_cli_help(command, capsys):
    assert main([command, "--help"]) == 0
    assert f"usage: jaxgossip {command}" in capsys.readouterr().out


def test_cli_prints_predictions_with_kappa(capsys):
    assert main(["theory", "--graph", "ring", "--nodes", "16", "--kappa", "100"]) == 0
    out = capsys.readouterr().out
    assert "Scaman" in out and "DADAO" in out and "lower bound" in out
    # The MSDA row carries |E| sqrt(kappa / gamma) log(1/eps) communications.
    c = graph_constants(jg.graphs.ring(16))
    expected = 16 * np.sqrt(100 / c["spectral_gap"]) * np.log(1e6)
    line = next(line for line in out.splitlines() if line.startswith("MSDA "))
    assert f"{expected:.3g}" in line
    assert main(["theory", "--graph", "ring", "--nodes", "16", "--kappa", "0.5"]) == 2
    assert "kappa" in capsys.readouterr().err
