"""The tutorial scripts of docs/tutorials/ run in their quick mode, each in a fresh
process as a reader would run it, exit 0, write their figure, and print what their
page says they print."""

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def lines_starting(out: str, prefix: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(prefix)]


def own_algorithm(out):
    assert lines_starting(out, "mixing = 1/2 matches AsyncGossipSGD")
    assert lines_starting(out, "check_algorithm(RelaxedGossipSGD): all passed")
    for name in ("jit_vmap", "recompile", "stable_state", "waves", "preserves_mean", "converges"):
        assert lines_starting(out, f"{name} ")[0].split()[1] == "passed", name
    # Weaker averaging leaves the nodes further apart.
    consensus = [float(line.split()[-1]) for line in lines_starting(out, "mixing 0.")]
    assert len(consensus) == 3 and consensus[0] > consensus[1] > consensus[2]


def own_problem(out):
    # DADAO is exact: it reaches float32 precision on all four problems.
    finals = [float(line.split()[-1]) for line in lines_starting(out, "DADAO")]
    assert len(finals) == 4 and max(finals) < 1e-6


def sweeps(out):
    assert lines_starting(out, "('step_size', 'comm_rate', 'seed', 'record') (3, 3, 3, 51)")
    assert lines_starting(out, "best: {'step_size'")


def tradeoff(out):
    # DADAO, above its theory's ratio, reaches eps; its best ratio is one of the grid's.
    (line,) = lines_starting(out, "DADAO: best ratio")
    assert float(line.split()[3].rstrip(",")) in (0.3, 1.0, 3.0, 10.0)


def theory(out):
    assert lines_starting(out, "DADAO ")  # a row of the report
    assert lines_starting(out, "rates per unit time: {'gossip'")


def long_runs(out):
    assert lines_starting(out, "resumed run equals the uninterrupted run: 81 records")
    assert lines_starting(out, "refused: checkpoint")


def many_devices(out):
    # 4 CPU devices (forced by the script), or the accelerators where JAX finds some.
    many = out.splitlines()[0].split(":")[0]
    n = int(many.split()[0])
    assert lines_starting(out, f"{many}: 24 runs, num_devices={n}")
    assert lines_starting(out, "1 device: 24 runs, num_devices=1")
    assert lines_starting(out, f"{many} equal 1 device: counters exactly")


# script -> (its figure, a check of its output)
TUTORIALS = {
    "tutorial_own_algorithm": ("own_algorithm.png", own_algorithm),
    "tutorial_own_problem": ("own_problem.png", own_problem),
    "tutorial_sweeps": ("sweeps.png", sweeps),
    "tutorial_tradeoff": ("tradeoff.png", tradeoff),
    "tutorial_theory": ("theory.png", theory),
    "tutorial_long_runs": ("long_runs.png", long_runs),
    "tutorial_many_devices": ("many_devices.png", many_devices),
}


@pytest.mark.parametrize("name", sorted(TUTORIALS))
def test_tutorial_runs_quick_and_writes_its_figure(name, tmp_path):
    figure, check = TUTORIALS[name]
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / figure).stat().st_size > 10_000
    check(result.stdout)
