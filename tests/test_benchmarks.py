"""benchmarks/batched.py runs at a tiny size and prints one row of positive figures
per algorithm in both of its modes (it is not run elsewhere in CI, so it would
otherwise rot unseen)."""

import importlib.util
import pathlib
import sys

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"
TINY = ["--nodes", "8", "--batch", "2", "--events", "40", "--repeats", "1"]


def load(name):
    if str(BENCHMARKS) not in sys.path:  # as when run as a script: its folder is on the path
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def row(out, name):
    (line,) = [line for line in out.splitlines() if line.startswith(name)]
    cells = [cell.removesuffix("x") for cell in line.split()[1:]]  # "0.15 M 3.7x"
    return [float(cell) for cell in cells if cell.replace(".", "").isdigit()]


def test_batched_benchmark_checks_its_batches_and_prints_ratios(capsys):
    # main() asserts that every batched run equals the single run of its key.
    batched = load("batched")
    batched.main([*TINY, "--algorithms", "async_gossip_sgd"])
    # one run, B seeds, its ratio, 1 seed, its ratio (M event-runs/s and x)
    figures = row(capsys.readouterr().out, "async_gossip_sgd")
    assert len(figures) == 5 and all(figure > 0 for figure in figures)


def test_batched_breakdown_prints_the_cost_of_each_kind(capsys):
    batched = load("batched")
    batched.main([*TINY, "--breakdown", "--algorithms", "async_gossip_sgd"])
    out = capsys.readouterr().out
    assert "drawing  compute     comm   shared      own" in out
    figures = row(out, "async_gossip_sgd")
    assert len(figures) == 5 and all(figure > 0 for figure in figures)
