import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest
import xarray as xr

import jaxgossip as jg
from jaxgossip.study import analysis
from jaxgossip.study import sweep as sweep_module
from jaxgossip.study.analysis import best, divergence_summary, over_seeds, reach_position, to_reach
from jaxgossip.study.sweep import METRICS, load_sweep, save_sweep, sweep, to_dataframe
from tests.conftest import child_xla_flags

NUM_EVENTS, NUM_RECORDS = 2000, 10
ROOT = pathlib.Path(__file__).resolve().parents[2]


def _problem(heterogeneity=1.0):
    return jg.problems.quadratic(jax.random.key(0), 8, 3, heterogeneity=heterogeneity)


def _sweep(algorithm=jg.algorithms.AsyncGossipSGD, problem=None, clocks=None, **kwargs):
    problem = _problem() if problem is None else problem
    clocks = jg.Clocks(jg.graphs.ring(8)) if clocks is None else clocks
    kwargs = dict(num_events=NUM_EVENTS, num_records=NUM_RECORDS) | kwargs
    return sweep(algorithm, problem, clocks, **kwargs)


@pytest.fixture(scope="module")
def with_divergence():
    """Step sizes 0.01 < 0.1 (both stable, L = 10) and 1.0 (diverges), 3 seeds."""
    return _sweep(
        problem=_problem(heterogeneity=0.0),
        grid={"step_size": [0.01, 0.1, 1.0], "comm_rate": [1.0, 4.0]},
        seeds=3,
    )


@pytest.mark.parametrize("with_key", [False, True])
def test_sweep_equals_single_runs(with_key):
    problem, graph = _problem(), jg.graphs.ring(8)
    compute_rate = np.linspace(0.5, 1.5, 8)  # heterogeneous: the grid scales, keeps the shape
    base = jg.Clocks(graph, compute_rate=compute_rate, comm_rate=1.0)
    step_sizes, comm_rates, seeds = [0.05, 0.1], [0.5, 2.0], [0, 3]
    key = jax.random.key(42) if with_key else None
    ds = _sweep(
        problem=problem,
        clocks=base,
        grid={"step_size": step_sizes, "comm_rate": comm_rates},
        seeds=seeds,
        key=key,
    )
    assert ds["suboptimality"].dims == ("step_size", "comm_rate", "seed", "record")
    assert ds["suboptimality"].shape == (2, 2, 2, NUM_RECORDS + 1)
    for lr in step_sizes:
        for rate in comm_rates:
            for s in seeds:
                run_key = jax.random.fold_in(key, s) if with_key else jax.random.key(s)
                trace = jg.simulate(
                    run_key,
                    jg.algorithms.AsyncGossipSGD(step_size=lr),
                    problem,
                    jg.Clocks(graph, compute_rate=compute_rate, comm_rate=rate),
                    num_events=NUM_EVENTS,
                    num_records=NUM_RECORDS,
                )
                point = ds.sel(step_size=lr, comm_rate=rate, seed=s)
                for name in METRICS:
                    np.testing.assert_allclose(
                        point[name], getattr(trace, name), rtol=1e-5, atol=0, err_msg=name
                    )


def test_one_compilation_for_many_padded_batches():
    traces = []

    def counting(step_size):
        if isinstance(step_size, jax.core.Tracer):
            traces.append(step_size)
        return jg.algorithms.AsyncGossipSGD(step_size=step_size)

    grid = {"step_size": np.linspace(0.02, 0.1, 7)}
    batched = _sweep(counting, grid=grid, seeds=2, max_batch=4)  # 14 runs: 4 batches, 2 padded
    assert len(traces) == 1
    _sweep(counting, grid={"step_size": np.linspace(0.01, 0.05, 5)}, seeds=[7, 8], max_batch=4)
    assert len(traces) == 1  # new values, same batch shape: the compiled sweep is reused
    whole = _sweep(jg.algorithms.AsyncGossipSGD, grid=grid, seeds=2, max_batch=64)
    xr.testing.assert_allclose(batched, whole, rtol=1e-6, atol=0)  # ignores attrs


def test_divergence_is_flagged_masked_and_reported(with_divergence):
    ds = with_divergence
    bad = ds.sel(step_size=1.0)
    assert bool(bad["diverged"].isel(record=-1).all())
    assert not bool(ds["diverged"].sel(step_size=[0.01, 0.1]).any())
    # Once diverged, stays diverged; metrics masked there, counters kept.
    flags = bad["diverged"].values
    assert np.all(flags[..., 1:] >= flags[..., :-1])
    for name in ("suboptimality", "mean_suboptimality", "consensus"):
        assert np.all(np.isnan(bad[name].values[flags]))
        assert np.all(np.isfinite(bad[name].values[~flags]))
    assert np.all(np.isfinite(bad["time"].values))
    summary = divergence_summary(ds)
    assert summary == [
        {"step_size": 1.0, "comm_rate": 1.0, "num_diverged_seeds": 3, "num_seeds": 3},
        {"step_size": 1.0, "comm_rate": 4.0, "num_diverged_seeds": 3, "num_seeds": 3},
    ]


def test_best_picks_the_fastest_stable_step_size(with_divergence):
    ds = with_divergence
    final = best(ds, criterion="final")
    assert final["step_size"] == 0.1
    eps = 1e-3 * float(ds["suboptimality"].isel(record=0).max())
    fastest = best(ds, criterion="to_reach", eps=eps)
    assert fastest["step_size"] == 0.1
    reach = over_seeds(to_reach(ds, eps), quantiles=(0.5,)).sel(quantile=0.5)
    assert fastest["score"] == float(reach.sel(step_size=0.1).min())
    with pytest.raises(ValueError, match="every configuration"):
        best(ds.sel(step_size=[1.0]))


def _manual_to_reach(sub, budget, eps, criterion):
    """The definition, one run at a time: the record r where the metric reaches
    eps (first hit, or staying there to the end), interpolated in log f between
    records r - 1 and r."""
    expected = np.full(sub.shape[:-1], np.nan)
    for index in np.ndindex(*sub.shape[:-1]):
        f, b = sub[index].astype(float), budget[index].astype(float)
        below = f <= eps
        if criterion == "sustained":
            below = np.array([below[r:].all() for r in range(len(f))])
        if not below.any():
            continue
        r = int(np.argmax(below))
        if r == 0:
            expected[index] = b[0]
            continue
        fraction = (np.log(f[r - 1]) - np.log(eps)) / (np.log(f[r - 1]) - np.log(f[r]))
        expected[index] = b[r - 1] + fraction * (b[r] - b[r - 1])
    return expected


@pytest.mark.parametrize("criterion", ["sustained", "first"])
def test_to_reach_matches_a_manual_computation(with_divergence, criterion):
    ds = with_divergence
    eps = 1e-2 * float(ds["suboptimality"].isel(record=0).max())
    for by in ("num_computations", "num_communications", "time"):
        result = to_reach(ds, eps, by=by, criterion=criterion)
        assert result.dims == ("step_size", "comm_rate", "seed")
        expected = _manual_to_reach(ds["suboptimality"].values, ds[by].values, eps, criterion)
        np.testing.assert_allclose(result.values, expected, rtol=1e-12, atol=0)
    assert np.all(np.isnan(to_reach(ds, eps).sel(step_size=1.0)))
    assert not np.any(np.isnan(to_reach(ds, eps).sel(step_size=0.1)))


def test_sustained_reach_ignores_a_touch_of_a_noisy_floor():
    """A run that dips below eps and climbs back reaches only when it stays."""
    metric = np.array([1.0, 0.5, 0.09, 0.2, 0.08, 0.05])
    assert reach_position(metric, 0.1, "first") == pytest.approx(
        1 + np.log(0.5 / 0.1) / np.log(0.5 / 0.09)
    )
    assert reach_position(metric, 0.1, "sustained") == pytest.approx(
        3 + np.log(0.2 / 0.1) / np.log(0.2 / 0.08)
    )
    assert np.isnan(reach_position(np.array([1.0, 0.05, 0.2]), 0.1, "sustained"))
    assert reach_position(np.array([1.0, 0.0]), 0.1) == pytest.approx(0.9)  # linear to 0
    assert reach_position(np.array([0.01, 0.001]), 0.1) == 0.0
    with pytest.raises(ValueError, match="criterion"):
        reach_position(metric, 0.1, "sometimes")


def test_over_seeds_shapes(with_divergence):
    ds = with_divergence
    stats = over_seeds(ds)
    assert stats["suboptimality"].dims == ("quantile", "step_size", "comm_rate", "record")
    assert stats["suboptimality"].shape == (3, 3, 2, NUM_RECORDS + 1)
    np.testing.assert_array_equal(stats["quantile"], [0.1, 0.5, 0.9])
    np.testing.assert_allclose(
        stats["suboptimality"].sel(quantile=0.5),
        ds["suboptimality"].median("seed"),
        rtol=1e-6,
    )
    assert float(stats["diverged_fraction"].sel(step_size=1.0).isel(record=-1).min()) == 1.0
    reach = over_seeds(to_reach(ds, 1e-3), quantiles=(0.25, 0.75))
    assert reach.shape == (2, 3, 2)
    frame = to_dataframe(ds)
    assert len(frame) == ds["suboptimality"].size
    assert {"step_size", "comm_rate", "seed", "record", "suboptimality"} <= set(frame.columns)


def test_save_load_roundtrip(with_divergence, tmp_path):
    ds = with_divergence
    path = tmp_path / "sweep.npz"
    save_sweep(path, ds)
    loaded = load_sweep(path)
    xr.testing.assert_identical(loaded, ds)
    for name in [*ds.data_vars, *ds.coords]:
        assert loaded[name].dtype == ds[name].dtype, name
        assert loaded[name].dims == ds[name].dims, name
    assert loaded.attrs == ds.attrs
    with pytest.raises(FileExistsError):
        save_sweep(path, ds)
    save_sweep(path, ds.isel(seed=[0]), overwrite=True)
    assert load_sweep(path).sizes["seed"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["sweep.npz"]  # no temporary left


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(grid={"step_size": []}), "non-empty 1-D"),
        (dict(grid={"step_size": [[0.1, 0.2]]}), "non-empty 1-D"),
        (dict(grid={"stepsize": [0.1]}), r"unknown hyperparameter\(s\) \['stepsize'\].*step_size"),
        (dict(grid={"step_size": [0.1], "seed": [1]}), "reserved"),
        (dict(grid={"step_size": [0.1], "record": [1]}), "reserved"),
        (dict(grid={"step_size": ["a"]}), "numeric"),
        (dict(grid={"step_size": [0.1], "comm_rate": [-1.0]}), "finite, >= 0"),
        (dict(grid={"step_size": [0.1]}, max_batch=0), "max_batch"),
        (dict(grid={"step_size": [0.1]}, seeds=0), "seeds"),
        (dict(grid={"step_size": [0.1]}, num_events=1001), "multiple"),
        # step_size missing: the class's own check (step_size and optimizer are optional)
        (dict(), "AsyncGossipSGD: give step_size .* or optimizer"),
    ],
)
def test_bad_inputs_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _sweep(**kwargs)


def test_sharded_sweep_equals_single_device():
    env = dict(
        os.environ,
        XLA_FLAGS=child_xla_flags(4),
        JAX_PLATFORMS="cpu",
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "sharded_sweep_check.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


class _Interrupted(Exception):
    pass


def test_chunked_sweep_equals_chunked_single_runs():
    problem, clocks = _problem(), jg.Clocks(jg.graphs.ring(8), 1.0, 2.0)
    ds = _sweep(
        problem=problem,
        clocks=clocks,
        grid={"step_size": [0.05, 0.1]},
        seeds=2,
        num_chunks=5,
        max_batch=3,
    )
    for s, step_size in enumerate([0.05, 0.1]):
        for seed in range(2):
            single = jg.simulate_in_chunks(
                jax.random.key(seed),
                jg.algorithms.AsyncGossipSGD(step_size=step_size),
                problem,
                clocks,
                num_events=NUM_EVENTS,
                num_records=NUM_RECORDS,
                num_chunks=5,
                progress=False,
            )
            for name in ("time", "num_computations", "suboptimality", "consensus"):
                np.testing.assert_allclose(
                    ds[name].values[s, seed], getattr(single, name), rtol=1e-5, atol=1e-7
                )


def test_interrupted_sweep_resumes_bit_for_bit(tmp_path, monkeypatch, capsys):
    import jaxgossip.engine.long_run as long_run

    kwargs = dict(grid={"step_size": [0.05, 0.1, 0.2]}, seeds=2, num_chunks=5, max_batch=4)
    uninterrupted = _sweep(**kwargs)
    prefix = tmp_path / "sweep"
    real_save = long_run.io.save_traces
    saves = []

    def save_then_crash(path, *args, **kw):
        real_save(path, *args, **kw)
        saves.append(path)
        if len(saves) == 7:  # batch 0 done (5 chunks), batch 1 after 2 chunks
            raise _Interrupted

    monkeypatch.setattr(long_run.io, "save_traces", save_then_crash)
    with pytest.raises(_Interrupted):
        _sweep(checkpoint=prefix, progress=True, **kwargs)
    assert "events/s" in capsys.readouterr().err
    saves.clear()
    resumed = _sweep(checkpoint=prefix, resume=True, **kwargs)
    assert len(saves) == 3  # only batch 1's last 3 chunks ran again
    xr.testing.assert_identical(uninterrupted.drop_attrs(), resumed.drop_attrs())
    with pytest.raises(ValueError, match="need num_chunks > 1"):
        _sweep(checkpoint=prefix, **(kwargs | {"num_chunks": 1}))


def _small_sweep(algorithm=jg.algorithms.AsyncGossipSGD, network=None, **kwargs):
    """A 2-chunk checkpointed sweep, small enough to compile in a second."""
    network = jg.Clocks(jg.graphs.ring(8), 1.0, np.arange(1.0, 9.0)) if network is None else network
    budget = "num_rounds" if isinstance(network, jg.Mixing) else "num_events"
    kwargs = {budget: 200, "num_records": 4, "num_chunks": 2, "seeds": 2} | kwargs
    return sweep(algorithm, _problem(), network, grid={"step_size": [0.01, 0.02]}, **kwargs)


def test_resume_refuses_a_factory_that_fixes_another_hyperparameter(tmp_path):
    # The lambdas share a name and the grid; only the algorithms they build differ.
    mixing, prefix = jg.metropolis_mixing(jg.graphs.ring(8)), tmp_path / "s"
    nesterov = jg.algorithms.synchronous.Nesterov
    _small_sweep(lambda step_size: nesterov(step_size, momentum=0.5), mixing, checkpoint=prefix)
    with pytest.raises(ValueError, match=r"comes from another run: it differs in algorithm\."):
        _small_sweep(
            lambda step_size: nesterov(step_size, momentum=0.6), mixing, checkpoint=prefix,
            resume=True,
        )  # fmt: skip


def test_resume_refuses_permuted_rates_and_another_x0(tmp_path):
    prefix = tmp_path / "s"
    _small_sweep(checkpoint=prefix)
    permuted = jg.Clocks(jg.graphs.ring(8), 1.0, np.arange(8.0, 0.0, -1.0))  # equal sums
    with pytest.raises(ValueError, match=r"differs in network\.") as raised:
        _small_sweep(network=permuted, checkpoint=prefix, resume=True)
    assert repr(f"{prefix}.batch0") in str(raised.value)
    with pytest.raises(ValueError, match=r"differs in x0\."):
        _small_sweep(x0=np.ones(3), checkpoint=prefix, resume=True)
    with pytest.raises(ValueError, match=r"differs in batch_inputs, seeds\."):
        _small_sweep(seeds=[0, 2], checkpoint=prefix, resume=True)


def test_corrupt_sweep_checkpoint_raises_naming_the_file(tmp_path):
    prefix = tmp_path / "s"
    _small_sweep(checkpoint=prefix)
    batch0 = tmp_path / "s.batch0"
    batch0.write_bytes(batch0.read_bytes()[:-100])
    with pytest.raises(jg.io.CorruptFileError, match="Delete it or pass resume=False") as raised:
        _small_sweep(checkpoint=prefix, resume=True)
    assert repr(os.fspath(batch0)) in str(raised.value)


def test_sweep_checkpoint_in_a_missing_folder_fails_before_any_work(tmp_path, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("a batch ran before the checkpoint path was checked")

    monkeypatch.setattr(sweep_module, "_run_batch_chunk", no_work)
    with pytest.raises(FileNotFoundError, match="does not exist; create it"):
        _small_sweep(checkpoint=tmp_path / "missing" / "s")


def test_truncated_sweep_file_raises_corrupt_file_error(with_divergence, tmp_path):
    path = tmp_path / "sweep.npz"
    save_sweep(path, with_divergence)
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(jg.io.CorruptFileError, match="load_sweep: .* is truncated or corrupt"):
        load_sweep(path)


def test_readers_live_in_analysis_and_the_package_exports_them():
    for name in ("to_reach", "best", "over_seeds", "divergence_summary"):
        assert getattr(jg, name) is getattr(analysis, name)


def test_mask_divergence_rule():
    records = dict(
        diverged=np.array([[False, False, True, False], [False] * 4, [False] * 4]),
        suboptimality=np.array([[1.0, 0.5, 0.4, 0.3], [2.0, 3e6, 1.0, 1.0], [1.0] * 4]),
        consensus=np.array([[0.0] * 4, [0.0] * 4, [0.0, np.inf, 0.0, 0.0]]),
        time=np.arange(12.0).reshape(3, 4),
    )
    masked = analysis.mask_divergence(records, 1e6)
    # The engine's flag, a 1e6-fold rise (2 -> 3e6 > 2e6) and a non-finite metric,
    # each diverged from its record on.
    expected = np.array([[0, 0, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]], bool)
    np.testing.assert_array_equal(masked["diverged"], expected)
    for name in ("suboptimality", "consensus"):
        assert np.all(np.isnan(masked[name][expected]))
        np.testing.assert_array_equal(masked[name][~expected], records[name][~expected])
    np.testing.assert_array_equal(masked["time"], records["time"])  # counters kept
    assert "mean_suboptimality" not in masked  # only the metrics given are read


@pytest.mark.parametrize(
    "names, shape, max_batch, num_devices, group_size",
    [
        (("step_size", "comm_rate"), (3, 2, 4), 8, 1, 3),  # 8 // 3 groups of 3 per batch
        (("comm_rate", "step_size", "mixing"), (2, 2, 3, 2), 64, 4, 6),  # lcm(6, 4) = 12
        (("step_size",), (5, 3), 4, 1, None),  # a group of 5 does not fit: flat order
        (("comm_rate",), (4, 3), 64, 1, None),  # no hyperparameter axis: nothing shared
    ],
)
def test_layout_groups_runs_that_share_events(names, shape, max_batch, num_devices, group_size):
    grid = dict.fromkeys(names)
    layout = sweep_module._layout(grid, shape, max_batch, num_devices)
    batch_size, order = layout["batch_size"], layout["order"]
    num_runs = int(np.prod(shape))
    assert layout["group_size"] == group_size
    assert batch_size % num_devices == 0 and batch_size <= max(max_batch, num_devices)
    assert len(order) == layout["num_batches"] * batch_size
    assert sorted(order[:num_runs]) == list(range(num_runs))  # every run once, then padding
    if group_size is None:
        return
    assert batch_size % group_size == 0
    index = np.stack(np.unravel_index(order, shape), axis=1)
    shared = [a for a, name in enumerate((*names, "seed")) if name in ("comm_rate", "seed")]
    groups = index.reshape(-1, group_size, len(shape))
    # Within a group the seed and rates are one; its hyperparameters are all distinct.
    assert (groups[:, :, shared] == groups[:, :1, shared]).all()
    hyper = [a for a in range(len(names)) if a not in shared]
    assert all(len({tuple(r) for r in g[:, hyper]}) == group_size for g in groups)


@pytest.mark.parametrize("num_chunks", [1, 5])
def test_grouped_batches_equal_flat_batches(num_chunks, monkeypatch):
    """Several batches, the last padded: sharing a group's events changes no result."""
    kwargs = dict(
        grid={"step_size": [0.02, 0.05, 0.1], "comm_rate": [0.5, 2.0]},
        seeds=3,
        max_batch=7,  # groups of 3, two per batch: 18 runs in 3 batches
        num_chunks=num_chunks,
    )
    grouped = _sweep(**kwargs)
    layout = sweep_module._layout
    monkeypatch.setattr(
        sweep_module,
        "_layout",
        lambda grid, shape, max_batch, d: layout({}, shape, max_batch, d),  # flat C order
    )
    flat = _sweep(**kwargs)
    xr.testing.assert_allclose(grouped, flat, rtol=1e-6, atol=0)  # vmapped sums may reorder
