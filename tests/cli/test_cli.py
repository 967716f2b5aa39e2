import os
import subprocess
import sys

import equinox as eqx
import jax
import numpy as np
import pytest

from jaxgossip.cli.main import main
from jaxgossip.io import load_traces
from jaxgossip.plot import plot_convergence


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    """One small demo run shared by the tests below (compilation dominates its cost)."""
    out = tmp_path_factory.mktemp("demo")
    code = main(["demo", "--out", str(out), "--num-events", "2000", "--seeds", "2"])
    assert code == 0
    return out


def test_demo_writes_figure_and_traces(demo_dir):
    assert sorted(os.listdir(demo_dir)) == ["convergence.png", "traces.npz"]
    with open(demo_dir / "convergence.png", "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    traces, config = load_traces(demo_dir / "traces.npz")
    assert list(traces) == ["comm rate 0.25", "comm rate 1", "comm rate 4"]
    assert config["num_events"] == 2000 and config["num_seeds"] == 2
    trace = traces["comm rate 1"]
    assert trace.suboptimality.shape == (2, 101)
    assert trace.suboptimality.dtype == np.float32
    assert np.all(trace.num_computations[:, -1] + trace.num_communications[:, -1] == 2000)
    assert np.all(trace.suboptimality[:, -1] < trace.suboptimality[:, 0])


def test_demo_prints_the_table(tmp_path, capsys):
    args = ["demo", "--out", str(tmp_path), "--num-events", "2000", "--seeds", "2"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "comm rate" in out and "communications" in out and "simulated time" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("0.25", "1 "))]
    assert len(rows) == 2
    assert str(tmp_path) in out


def test_demo_refuses_to_overwrite(demo_dir, capsys):
    before = os.path.getmtime(demo_dir / "traces.npz")
    code = main(["demo", "--out", str(demo_dir), "--num-events", "2000", "--seeds", "2"])
    assert code == 2
    assert "--overwrite" in capsys.readouterr().err
    assert os.path.getmtime(demo_dir / "traces.npz") == before


def test_demo_rejects_bad_arguments(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--num-events", "150"]) == 2
    assert "multiple of --num-records" in capsys.readouterr().err
    assert main(["demo", "--seeds", "0"]) == 2
    assert main([]) == 2
    assert os.listdir(tmp_path) == []


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert main(["demo", "--help"]) == 0
    assert "--num-events" in capsys.readouterr().out


def test_module_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "jaxgossip.cli", "demo", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--overwrite" in result.stdout


@pytest.mark.parametrize("batched", [False, True])
def test_plot_convergence_writes_png(tmp_path, demo_dir, batched):
    traces, _ = load_traces(demo_dir / "traces.npz")
    if not batched:  # one seed of each
        traces = {label: _first(trace) for label, trace in traces.items()}
    path = tmp_path / "fig.png"
    fig = plot_convergence(traces, path=path)
    assert len(fig.axes) == 3
    assert [ax.get_xlabel() for ax in fig.axes] == [
        "simulated time",
        "gradient computations",
        "communications",
    ]
    assert fig.axes[0].get_ylabel() == "f(x̄) − f*"
    assert fig.axes[0].get_yscale() == "log"
    assert len(fig.axes[0].get_lines()) == 3
    assert len(fig.axes[0].collections) == (3 if batched else 0)  # the percentile bands
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_convergence_survives_divergence(tmp_path, demo_dir):
    traces, _ = load_traces(demo_dir / "traces.npz")
    trace = traces["comm rate 1"]
    bad = trace.suboptimality.copy()
    bad[0, 50:] = np.inf
    diverged = trace.diverged.copy()
    diverged[0, 50:] = True
    trace = eqx.tree_at(lambda t: (t.suboptimality, t.diverged), trace, (bad, diverged))
    fig = plot_convergence({"rate 1": trace}, metric=("suboptimality", "consensus"))
    assert len(fig.axes) == 6
    assert "diverged: 1/2" in fig.axes[0].get_lines()[0].get_label()
    fig.savefig(tmp_path / "fig.png")


def _first(trace):
    return jax.tree.map(lambda a: a[0], trace)
