"""``jaxgossip tradeoff CONFIG``: checking the file, running it, writing the results."""

import os
import pathlib

import numpy as np
import pytest

from jaxgossip.cli.main import main
from jaxgossip.cli.tradeoff import load_config, output_paths

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "tradeoff_frontier.toml"

TINY = """
name = "tiny"
seeds = 2
eps = 1e-2
ratios = [0.3, 3]
events_per_chunk = 2000
records_per_chunk = 10
max_chunks = 3
algorithms = ["async_gossip_sgd", "dadao"]
costs = [[1.0, 0.1], [1.0, 10.0]]

[problem]
kind = "quadratic"
num_nodes = 6
dim = 3
kappa = 4.0
heterogeneity = 0.2

[graph]
kind = "ring"
"""


def _write(folder, text, name="tiny.toml"):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_is_valid():
    config = load_config(EXAMPLE)
    assert config.name == "tradeoff_frontier" and config.problem.num_nodes == 16
    assert [g.kind for g in config.graphs] == ["ring"]
    assert config.events_per_chunk % config.records_per_chunk == 0
    assert all(p.startswith(config.output_dir) for p in output_paths(config))


def test_defaults_and_paths(tmp_path):
    config = load_config(_write(tmp_path, TINY.replace("ratios = [0.3, 3]\n", "")))
    assert config.ratios == (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
    assert config.costs == ((1.0, 0.1), (1.0, 10.0)) and not config.float64
    assert [os.path.basename(p) for p in output_paths(config)] == [
        "ring__tradeoff.npz",
        "ring__frontier.png",
        "ring__cost.png",
        "summary.txt",
    ]


@pytest.mark.parametrize(
    "change, key, message",
    [
        (("ratios =", "ratio ="), "ratio", "did you mean 'ratios'"),
        (("[graph]", "[output]\ndirr = 'x'\n[graph]"), "output.dirr", "unknown key 'dirr'"),
        (('"dadao"]', '"dadoa"]'), "algorithms[1]", "did you mean 'dadao'"),
        (("[1.0, 10.0]", "[1.0]"), "costs[1]", "expected a pair"),
        (("[1.0, 10.0]", "[0, 0]"), "costs[1]", "not both 0"),
        (("[0.3, 3]", "[0.3, -3]"), "ratios", "ratios > 0"),
        (("[0.3, 3]", "[3, 3]"), "ratios", "distinct"),
        (("records_per_chunk = 10", "records_per_chunk = 3"), "events_per_chunk", "multiple"),
        (("seeds = 2", "seeds = 2.5"), "seeds", "expected an integer"),
        (("kappa = 4.0", "kapa = 4.0"), "problem.kapa", "did you mean 'kappa'"),
        (('kind = "ring"', 'kind = "rign"'), "graph.kind", "did you mean 'ring'"),
        (("max_chunks = 3", "max_chunks = 0"), "max_chunks", ">= 1"),
    ],
)
def test_bad_files_exit_2_naming_the_key(tmp_path, capsys, change, key, message):
    text = TINY.replace(*change)
    assert text != TINY
    path = _write(tmp_path, text)
    assert main(["tradeoff", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {key}: " in err and message in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_algorithms_and_file(tmp_path, capsys):
    text = TINY.replace('algorithms = ["async_gossip_sgd", "dadao"]\n', "")
    assert main(["tradeoff", str(_write(tmp_path, text))]) == 2
    assert "algorithms: missing" in capsys.readouterr().err
    assert main(["tradeoff", str(tmp_path / "none.toml")]) == 2
    assert "No such file" in capsys.readouterr().err


def test_help(capsys):
    assert main(["tradeoff", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: jaxgossip tradeoff" in out and "events_per_chunk" in out


# DADAO's theory warns that ratio 0.3 is below its rate condition on this ring.
@pytest.mark.filterwarnings("ignore:(DADAO.from_theory|explore. dadao):UserWarning")
def test_a_tiny_run_writes_figures_dataset_and_table(tmp_path, capsys):
    from jaxgossip.study.sweep import load_sweep

    path, out = _write(tmp_path, TINY), tmp_path / "out"
    assert main(["tradeoff", str(path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert sorted(os.listdir(out)) == [
        "ring__cost.png",
        "ring__frontier.png",
        "ring__tradeoff.npz",
        "summary.txt",
    ]
    for name in ("ring__cost.png", "ring__frontier.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert str(out / name) in printed
    ds = load_sweep(out / "ring__tradeoff.npz")
    assert dict(ds.sizes) == {"algorithm": 2, "ratio": 2, "seed": 2}
    assert list(ds["algorithm"].values) == ["async_gossip_sgd", "dadao"]
    table = (out / "summary.txt").read_text(encoding="utf-8")
    assert table.strip() in printed
    for text in ("computations", "communications", "best ratio", "0.1·communications"):
        assert text in table
    assert sum(line.startswith("dadao ") for line in table.splitlines()) == 2  # one per ratio
    # The figure's stars are the explorer's best ratios.
    from jaxgossip.plot import plot_cost
    from jaxgossip.study.tradeoff import best_ratios

    (ax,) = plot_cost(ds, c_grad=1.0, c_comm=10.0).axes
    for label, (ratio, cost) in best_ratios(ds, c_grad=1.0, c_comm=10.0).items():
        stars = [line for line in ax.get_lines() if line.get_gid() == f"best:{label}"]
        if np.isnan(ratio):
            assert not stars
        else:
            np.testing.assert_allclose(stars[0].get_xydata(), [[ratio, cost]], rtol=1e-12)
    # A second run refuses to replace the results, before running anything.
    before = os.path.getmtime(out / "summary.txt")
    assert main(["tradeoff", str(path), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert os.path.getmtime(out / "summary.txt") == before


NOTHING_REACHED = """
seeds = 2
eps = 1e-12
ratios = [0.3, 3]
events_per_chunk = 1000
records_per_chunk = 10
max_chunks = 1
algorithms = ["async_gossip_sgd"]

[problem]
kind = "quadratic"
num_nodes = 4
dim = 2

[graph]
kind = "ring"
"""


def test_nothing_reaching_eps_prints_not_reached_and_draws_the_figures(tmp_path, capsys):
    path, out = _write(tmp_path, NOTHING_REACHED), tmp_path / "out"
    assert main(["tradeoff", str(path), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    rows = [line for line in captured.out.splitlines() if line.startswith("async_gossip_sgd ")]
    assert len(rows) == 2 and all("0/2" in row and "not reached" in row for row in rows), rows
    assert "ε" not in captured.out and "<= 1e-12" in captured.out
    for name in ("ring__frontier.png", "ring__cost.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "not reached" in (out / "summary.txt").read_text(encoding="utf-8")

    # `jaxgossip plot` draws a trade-off file's frontier, and says what it drew.
    figure = tmp_path / "frontier.png"
    assert main(["plot", str(out / "ring__tradeoff.npz"), "--out", str(figure)]) == 0
    assert "trade-off file" in capsys.readouterr().out
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
