"""Every command's flags: help text with a default, one-line errors with status 2, --float64."""

import argparse
import sys

import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip.cli.run
from jaxgossip.cli.main import build_parser, main
from jaxgossip.study.build import build_problem
from jaxgossip.study.sweep import load_sweep


def _commands():
    return build_parser().commands


def _options():
    for name, sub in _commands().items():
        for action in sub._actions:
            if action.option_strings and not isinstance(action, argparse._HelpAction):
                yield pytest.param(sub, action, id=f"{name} {action.option_strings[-1]}")


@pytest.mark.parametrize("sub, action", list(_options()))
def test_every_flag_has_help_with_its_default(sub, action):
    assert action.help and action.help.strip()
    text = sub.formatter_class(sub.prog)._get_help_string(action)
    assert action.required or "default" in text, text
    assert (text % vars(action)).strip()  # the help renders


def test_every_command_but_plot_has_float64():
    for name, sub in _commands().items():
        flags = {flag for action in sub._actions for flag in action.option_strings}
        assert (name == "plot") != ("--float64" in flags), name


BAD = [
    ("compare", ["--graph", "foo"], "--graph"),
    ("compare", ["--nodes", "2"], "n must be >= 3"),
    ("compare", ["--kappa", "0.5"], "--kappa"),
    ("compare", ["--seeds", "0"], "--seeds"),
    ("compare", ["--events", "1001"], "multiple of --records"),
    ("compare", ["--eps", "0"], "--eps"),
    ("compare", ["--eps", "1e-3", "nan"], "--eps"),
    ("compare", ["--dim", "0"], "--dim"),
    ("compare", ["--comm-rate", "-1"], "--comm-rate"),
    ("compare", ["--rounds", "x"], "--rounds"),
    ("theory", ["--graph", "ring", "--kappa", "0.5"], "--kappa"),
    ("theory", ["--graph", "ring", "--eps", "-1"], "--eps"),
    ("theory", ["--graph", "ring", "--seed", "-1"], "--seed"),
    ("demo", ["--seeds", "0"], "--seeds"),
    ("demo", ["--unknown"], "unrecognized"),
    ("run", ["x.toml", "--resume", "--overwrite"], "pass one"),
    ("tradeoff", ["x.toml", "--resume", "--overwrite"], "pass one"),
    ("plot", ["x.npz", "--metric", "loss"], "--metric"),
]


@pytest.mark.parametrize(
    "command, args, message", BAD, ids=[f"{c} {' '.join(a)}" for c, a, _ in BAD]
)
def test_bad_flags_give_one_line_and_status_2(command, args, message, capsys, tmp_path):
    out = ["--out", str(tmp_path / "figure.png")] if command == "compare" else []
    assert main([command, *args, *out]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"jaxgossip {command}: error: ") and message in lines[0], lines
    assert not (tmp_path / "figure.png").exists()


FLOAT64 = {
    "demo": ["demo"],
    "run": ["run", "EXPERIMENT"],
    "theory": ["theory", "--graph", "ring"],
    "compare": ["compare", "--no-float64"],  # compare is float64 by default
    "tradeoff": ["tradeoff", "CONFIG"],
}


@pytest.mark.parametrize("command", sorted(FLOAT64))
def test_float64_turns_on_x64_before_the_command_runs(command, monkeypatch, tmp_path):
    seen = []
    module = sys.modules[f"jaxgossip.cli.{command}"]
    monkeypatch.setattr(module, "run_command", lambda args: seen.append(jnp.zeros(1).dtype) or 0)
    assert main(FLOAT64[command]) == 0
    assert main([*FLOAT64[command], "--float64"]) == 0
    assert seen == [np.float32, np.float64]
    assert jnp.zeros(1).dtype == np.float32  # and off again after it


TINY = """
seeds = 1
num_events = 200
num_records = 10

[problem]
kind = "quadratic"
num_nodes = 4
dim = 2

[graph]
kind = "ring"

[[algorithms]]
name = "async_gossip_sgd"
"""


def test_run_in_float64_by_the_precision_key(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text('precision = "float64"\n' + TINY)
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    ds = load_sweep(tmp_path / "out" / "ring__async_gossip_sgd.npz")
    assert ds["suboptimality"].dtype == np.float64 and ds["time"].dtype == np.float64
    assert ds.attrs["precision"] == "float64"


def test_run_float64_flag_reaches_the_experiment(tmp_path, monkeypatch, capsys):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    seen = []

    def stop(experiment, **kwargs):  # before anything runs
        seen.append((experiment.precision, build_problem(experiment).A.dtype))
        raise KeyboardInterrupt

    monkeypatch.setattr(jaxgossip.cli.run, "run_experiment", stop)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--float64"]) == 130
    assert seen == [("float64", np.float64)]
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.endswith(f"--out {tmp_path / 'out'} --resume --float64"), line
