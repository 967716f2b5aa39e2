import jax
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.engine.long_run import simulate_in_chunks
from tests import reference


class Interrupted(Exception):
    pass


def _setup(key):
    problem = jg.problems.quadratic(key, 8, 3, kappa=5.0)
    clocks = jg.Clocks(jg.graphs.ring(8), compute_rate=1.0, comm_rate=2.0)
    return jg.algorithms.AsyncGossipSGD(step_size=0.05), problem, clocks


def _run(key, **kwargs):
    algorithm, problem, clocks = _setup(jax.random.key(0))
    return simulate_in_chunks(
        key, algorithm, problem, clocks, num_events=1200, num_records=12, num_chunks=4, **kwargs
    )


def test_resumed_run_equals_uninterrupted_bit_for_bit(key, tmp_path):
    uninterrupted = _run(key, progress=False)
    path = tmp_path / "run.ckpt"

    def interrupt(chunks_done, trace):
        if chunks_done == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        _run(key, checkpoint=path, progress=False, on_chunk=interrupt)
    assert path.exists() and not [p for p in tmp_path.iterdir() if p != path]
    seen = []
    resumed = _run(
        key,
        checkpoint=path,
        resume=True,
        progress=False,
        on_chunk=lambda chunks_done, trace: seen.append(chunks_done),
    )
    assert seen == [3, 4]  # resumption ran only the chunks left, not the whole run again
    for a, b in zip(jax.tree.leaves(uninterrupted), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert np.asarray(a).dtype == np.asarray(b).dtype


def test_chunked_run_applies_its_events_exactly(key, x64):
    algorithm, problem, clocks = _setup(jax.random.key(0))
    trace = simulate_in_chunks(
        key,
        algorithm,
        problem,
        clocks,
        num_events=1200,
        num_records=12,
        num_chunks=4,
        progress=False,
    )
    chunks = [
        jg.sample_events(jg.split_key(jax.random.fold_in(key, c))[0], clocks, 300, num_chunks=3)
        for c in range(4)
    ]
    events = jax.tree.map(lambda *a: np.concatenate(a), *chunks)
    expected = reference.replay_async_gossip_sgd(
        events, np.zeros((8, 3)), reference.quadratic_gradient(problem), 0.05
    )
    np.testing.assert_allclose(trace.final_state, expected, rtol=1e-10, atol=1e-12)
    assert trace.time.shape == (13,) and np.all(np.diff(trace.time) > 0)
    assert trace.num_computations[-1] + trace.num_communications[-1] == 1200
    np.testing.assert_array_equal(trace.num_computations[-1], np.sum(events.kind == jg.COMPUTE))


def test_chunks_share_one_compilation(key):
    _run(key, progress=False)
    compiled = jg.simulate._cache_size()
    _run(jax.random.key(5), progress=False)
    assert jg.simulate._cache_size() == compiled


def test_progress_is_reported(key, capsys):
    _run(key, progress=True)
    err = capsys.readouterr().err
    # A tqdm bar, redrawn after every chunk.
    assert "chunk 2/4:  50%" in err and "chunk 4/4: 100%" in err
    assert "1200/1200 events" in err and "events/s" in err


def test_checkpoint_of_another_run_is_refused(key, tmp_path):
    path = tmp_path / "run.ckpt"
    _run(key, checkpoint=path, progress=False)
    with pytest.raises(ValueError, match="comes from another run: it differs in key"):
        _run(jax.random.key(9), checkpoint=path, resume=True, progress=False)


def test_bad_chunking_raises(key):
    algorithm, problem, clocks = _setup(key)
    with pytest.raises(ValueError, match="multiples of num_chunks"):
        simulate_in_chunks(
            key, algorithm, problem, clocks, num_events=1000, num_records=10, num_chunks=3
        )
    with pytest.raises(ValueError, match="needs a checkpoint"):
        simulate_in_chunks(
            key,
            algorithm,
            problem,
            clocks,
            num_events=1200,
            num_records=12,
            num_chunks=4,
            resume=True,
        )


def test_rounds_progress_counts_rounds(key, capsys):
    problem = jg.problems.quadratic(key, 8, 3, kappa=5.0)
    mixing = jg.metropolis_mixing(jg.graphs.ring(8))
    algorithm = jg.algorithms.synchronous.EXTRA.from_theory(problem, mixing)
    trace = simulate_in_chunks(
        key, algorithm, problem, mixing, num_rounds=40, num_records=8, num_chunks=2
    )
    err = capsys.readouterr().err
    assert "chunk 2/2: 100%" in err and "40/40 rounds" in err and "rounds/s" in err
    np.testing.assert_array_equal(trace.time, np.arange(0, 41, 5))


def test_wrong_network_for_the_engine_raises(key):
    algorithm, problem, clocks = _setup(key)
    with pytest.raises(ValueError, match="needs Clocks"):
        simulate_in_chunks(
            key,
            algorithm,
            problem,
            jg.metropolis_mixing(clocks.graph),
            num_events=1200,
            num_records=12,
            num_chunks=4,
        )


def test_stitching_chunks_compiles_nothing_and_equals_the_jitted_stitch(caplog):
    from jaxgossip.engine.long_run import append_traces

    algorithm, problem, clocks = _setup(jax.random.key(0))
    chunks = [
        jg.simulate(jax.random.key(c), algorithm, problem, clocks, num_events=60, num_records=3)
        for c in range(4)
    ]
    stitched = chunks[0]
    with jax.log_compiles(), caplog.at_level("DEBUG"):
        for chunk in chunks[1:]:
            stitched = append_traces(stitched, chunk)
    compiled = [r.getMessage() for r in caplog.records if "ompil" in r.getMessage()]
    assert compiled == []  # eager jnp on a growing trace compiled ~3 programs per field
    assert stitched.time.shape == (13,)  # 4 chunks of 3 records after the initial one
    expected = chunks[0]
    for chunk in chunks[1:]:
        expected = jax.jit(append_traces)(expected, chunk)
    for got, want in zip(jax.tree.leaves(stitched), jax.tree.leaves(expected)):
        np.testing.assert_array_equal(got, want)
    # Counters continue across chunks.
    total = sum(int(chunk.num_computations[-1]) for chunk in chunks)
    assert int(stitched.num_computations[-1]) == total
