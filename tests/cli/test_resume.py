"""Ctrl-C and ``--resume``: finished pairs stay on disk; resuming equals an uninterrupted run."""

import os

import pytest
import xarray as xr

import jaxgossip.io
import jaxgossip.study.experiment
from jaxgossip.cli import tradeoff
from jaxgossip.cli.main import main
from jaxgossip.study.sweep import load_sweep, save_sweep

EXPERIMENT = """
name = "tiny"
seeds = 2
num_events = 2_000
num_records = 10
num_chunks = 2
eps = 0.5

[problem]
kind = "quadratic"
num_nodes = 4
dim = 2

[graph]
kind = "ring"

[[algorithms]]
name = "async_gossip_sgd"
label = "sgd"
[algorithms.grid]
step_size = [0.03, 0.1]

[[algorithms]]  # the same class and grid axes: both sweeps share one compiled call
name = "async_gossip_sgd"
label = "sgd_large"
[algorithms.grid]
step_size = [0.2, 0.3]
"""

TRADEOFF = """
name = "tiny"
seeds = 2
eps = 1e-2
ratios = [0.3, 3]
events_per_chunk = 1000
records_per_chunk = 10
max_chunks = 2
algorithms = ["async_gossip_sgd"]

[problem]
kind = "quadratic"
num_nodes = 4
dim = 2

[[graphs]]  # two pairs sharing one compiled call
kind = "ring"
label = "a"

[[graphs]]
kind = "ring"
label = "b"
"""


def _interrupt_at(monkeypatch, target, call: int, *, after: bool = False):
    """Replaces ``target`` (module, name) by a wrapper raising KeyboardInterrupt at ``call``
    (1-based; after running the real function when ``after``); returns the list of calls."""
    module, name = target
    real, calls = getattr(module, name), []

    def wrapper(*args, **kwargs):
        calls.append(args)
        if len(calls) == call and not after:
            raise KeyboardInterrupt
        result = real(*args, **kwargs)
        if len(calls) == call:
            raise KeyboardInterrupt
        return result

    monkeypatch.setattr(module, name, wrapper)
    return calls


def _last_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    return lines[-1]


def test_run_interrupted_keeps_finished_sweeps_and_resume_equals_an_uninterrupted_run(
    tmp_path, capsys
):
    path = tmp_path / "tiny.toml"
    path.write_text(EXPERIMENT)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(["run", str(path), "--out", str(whole)]) == 0
    names = ["ring__sgd.npz", "ring__sgd_large.npz"]
    capsys.readouterr()

    # Ctrl-C as the second sweep starts: the first is on disk, a one-line message, status 130.
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_at(patch, (jaxgossip.study.experiment, "sweep"), 2)
        assert main(["run", str(path), "--out", str(cut)]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = _last_line(err)
    assert "interrupted; saved 1 of 2 sweeps" in line and "--resume" in line, err
    assert sorted(os.listdir(cut)) == ["ring__sgd.npz"]
    xr.testing.assert_identical(load_sweep(cut / names[0]), load_sweep(whole / names[0]))

    # Without --resume or --overwrite the folder is refused.
    assert main(["run", str(path), "--out", str(cut)]) == 2
    assert "--resume" in capsys.readouterr().err

    # Ctrl-C again, right after the second sweep's first chunk is checkpointed.
    with pytest.MonkeyPatch.context() as patch:
        sweeps = _interrupt_at(patch, (jaxgossip.study.experiment, "sweep"), 0)
        _interrupt_at(patch, (jaxgossip.io, "save_traces"), 1, after=True)
        assert main(["run", str(path), "--out", str(cut), "--resume"]) == 130
    assert len(sweeps) == 1  # the finished sweep was kept, not run again
    line = _last_line(capsys.readouterr().err)
    assert "saved 1 of 2 sweeps" in line and "finished chunks" in line, line
    assert os.listdir(cut / ".checkpoints")

    # --resume continues the checkpointed sweep; the results are the uninterrupted run's.
    with pytest.MonkeyPatch.context() as patch:
        sweeps = _interrupt_at(patch, (jaxgossip.study.experiment, "sweep"), 0)
        checkpoints = _interrupt_at(patch, (jaxgossip.io, "save_traces"), 0)
        assert main(["run", str(path), "--out", str(cut), "--resume"]) == 0
    assert len(sweeps) == 1
    assert len(checkpoints) == 1  # only the second of the 2 chunks ran again
    assert sorted(os.listdir(cut)) == sorted(os.listdir(whole))  # no checkpoints left
    for name in names:
        xr.testing.assert_identical(load_sweep(cut / name), load_sweep(whole / name))
    assert (cut / "summary.txt").read_text() == (whole / "summary.txt").read_text()


def test_tradeoff_interrupted_keeps_finished_pairs_and_resume_equals_an_uninterrupted_run(
    tmp_path, capsys
):
    path = tmp_path / "tiny.toml"
    path.write_text(TRADEOFF)
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(["tradeoff", str(path), "--out", str(whole)]) == 0
    capsys.readouterr()
    with pytest.MonkeyPatch.context() as patch:
        _interrupt_at(patch, (tradeoff, "explore"), 2)
        assert main(["tradeoff", str(path), "--out", str(cut)]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = _last_line(err)
    assert "saved 1 of 2 graph x algorithm pairs" in line and "--resume" in line, err
    with pytest.MonkeyPatch.context() as patch:
        calls = _interrupt_at(patch, (tradeoff, "explore"), 0)
        assert main(["tradeoff", str(path), "--out", str(cut), "--resume"]) == 0
    assert len(calls) == 1  # only the unfinished pair ran
    assert sorted(os.listdir(cut)) == sorted(os.listdir(whole))
    for name in ("a__tradeoff.npz", "b__tradeoff.npz"):
        resumed, expected = load_sweep(cut / name), load_sweep(whole / name)
        for ds in (resumed, expected):
            ds.attrs.pop("compilations")  # the first run compiled, the others reused it
        xr.testing.assert_identical(resumed, expected)
    assert (cut / "summary.txt").read_text() == (whole / "summary.txt").read_text()


def test_resume_refuses_results_of_another_experiment(tmp_path, capsys):
    path, out = tmp_path / "tiny.toml", tmp_path / "out"
    path.write_text(EXPERIMENT)
    out.mkdir()
    other = xr.Dataset({"suboptimality": (("seed", "record"), [[1.0]])}, attrs={"experiment": "{}"})
    save_sweep(out / "ring__sgd.npz", other)
    assert main(["run", str(path), "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    assert "another experiment" in err and "Traceback" not in err
    assert sorted(os.listdir(out)) == ["ring__sgd.npz"]  # nothing ran, nothing was replaced
