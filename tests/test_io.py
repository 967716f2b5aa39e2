import json
import os
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.io import load_traces, save_traces


class _PairState(NamedTuple):
    x: jax.Array  # (n, d)
    t: jax.Array  # (n,)


class _ModuleState(eqx.Module):
    x: jax.Array  # (n, d)
    extras: dict
    name: str = eqx.field(static=True)


def _run(key, num_seeds=None):
    """A short gossip-SGD run on a quadratic, or a vmapped batch of them."""
    graph = jg.graphs.ring(6)
    problem = jg.problems.quadratic(key, 6, 3)
    clocks = jg.Clocks(graph, compute_rate=1.0, comm_rate=1.0)
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.1)

    def run(k):
        return jg.simulate(k, algorithm, problem, clocks, num_events=40, num_records=4)

    if num_seeds is None:
        return run(key)
    return jax.vmap(run)(jax.random.split(key, num_seeds))


def _assert_bit_exact(saved, loaded):
    saved_leaves, saved_def = jax.tree.flatten(saved)
    loaded_leaves, loaded_def = jax.tree.flatten(loaded)
    assert saved_def == loaded_def
    for a, b in zip(saved_leaves, loaded_leaves):
        a = np.asarray(a)
        assert isinstance(b, np.ndarray)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()  # bit-exact, NaN payloads and signed zeros included


@pytest.mark.parametrize("num_seeds", [None, 3])
@pytest.mark.parametrize("use_x64", [False, True])
def test_roundtrip_is_bit_exact(tmp_path, key, num_seeds, use_x64):
    with jax.enable_x64(use_x64):
        traces = {"one": _run(key, num_seeds), "two/with slash": _run(jax.random.key(7), num_seeds)}
        config = {"num_events": 40, "rates": np.array([0.5, 1.0]), "nested": {"a": [1, None]}}
        save_traces(tmp_path / "t.npz", traces, config=config)
    loaded, loaded_config = load_traces(tmp_path / "t.npz")
    assert list(loaded) == list(traces)
    for label in traces:
        _assert_bit_exact(traces[label], loaded[label])
    expected_dtype = np.float64 if use_x64 else np.float32
    assert loaded["one"].suboptimality.dtype == expected_dtype
    if num_seeds is not None:
        assert loaded["one"].final_state.shape == (num_seeds, 6, 3)
    assert loaded_config == {"num_events": 40, "rates": [0.5, 1.0], "nested": {"a": [1, None]}}


def test_metadata_records_version_and_config(tmp_path, key):
    save_traces(tmp_path / "t.npz", {"a": _run(key)}, config={"seed": 3})
    with np.load(tmp_path / "t.npz", allow_pickle=False) as data:
        metadata = json.loads(data["__metadata__"].tobytes().decode("utf-8"))
        assert "0/suboptimality" in data.files  # readable with NumPy alone
    assert metadata["jaxgossip_version"] == jg.__version__
    assert metadata["config"] == {"seed": 3}
    assert metadata["labels"] == ["a"]


def test_pytree_final_states_roundtrip(tmp_path, key):
    trace = _run(key)
    x = trace.final_state
    states = {
        "namedtuple": _PairState(x=x, t=jnp.arange(6, dtype=jnp.float32)),
        "tuple": (x, [x[0], None], {"b": x[1], "a": jnp.int8(3)}),
        "module": _ModuleState(x=x, extras={"k": jnp.ones(2, jnp.int32)}, name="m"),
        "bfloat16": x.astype(jnp.bfloat16),
        "prng_key": jax.random.split(key, 6),
    }
    traces = {name: eqx.tree_at(lambda t: t.final_state, trace, s) for name, s in states.items()}
    save_traces(tmp_path / "t.npz", traces)
    loaded, config = load_traces(tmp_path / "t.npz")
    assert config is None
    assert isinstance(loaded["namedtuple"].final_state, _PairState)
    assert isinstance(loaded["module"].final_state, _ModuleState)
    assert loaded["module"].final_state.name == "m"
    assert loaded["bfloat16"].final_state.dtype == jnp.bfloat16
    for name in ("namedtuple", "tuple", "module", "bfloat16"):
        _assert_bit_exact(traces[name], loaded[name])
    saved_keys, loaded_keys = states["prng_key"], loaded["prng_key"].final_state
    assert jax.dtypes.issubdtype(loaded_keys.dtype, jax.dtypes.prng_key)
    np.testing.assert_array_equal(jax.random.key_data(saved_keys), jax.random.key_data(loaded_keys))


def test_unimportable_container_loads_as_a_plain_one(tmp_path, key):
    class Local(NamedTuple):  # its qualname holds <locals>: not importable on load
        x: jax.Array

    trace = _run(key)
    trace = eqx.tree_at(lambda t: t.final_state, trace, Local(x=trace.final_state))
    save_traces(tmp_path / "t.npz", {"a": trace})
    with pytest.warns(UserWarning, match="cannot import"):
        loaded, _ = load_traces(tmp_path / "t.npz")
    state = loaded["a"].final_state
    assert state._fields == ("x",)
    np.testing.assert_array_equal(state.x, np.asarray(trace.final_state.x))


def test_refuses_to_overwrite(tmp_path, key):
    path = tmp_path / "t.npz"
    save_traces(path, {"a": _run(key)}, config={"v": 1})
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_traces(path, {"a": _run(key)}, config={"v": 2})
    assert load_traces(path)[1] == {"v": 1}
    save_traces(path, {"a": _run(key)}, config={"v": 2}, overwrite=True)
    assert load_traces(path)[1] == {"v": 2}
    assert os.listdir(tmp_path) == ["t.npz"]  # no temporary file left behind


def test_failed_write_leaves_no_file(tmp_path, key, monkeypatch):
    path = tmp_path / "t.npz"
    with pytest.raises(TypeError, match="JSON"):
        save_traces(path, {"a": _run(key)}, config={"bad": object()})
    assert os.listdir(tmp_path) == []

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", fail)
    with pytest.raises(OSError, match="disk full"):
        save_traces(path, {"a": _run(key)})
    assert os.listdir(tmp_path) == []


def test_failed_overwrite_keeps_the_old_file(tmp_path, key):
    path = tmp_path / "t.npz"
    save_traces(path, {"a": _run(key)}, config={"v": 1})
    with pytest.raises(TypeError):
        save_traces(path, {"a": "not a trace"}, overwrite=True)
    assert load_traces(path)[1] == {"v": 1}
    assert os.listdir(tmp_path) == ["t.npz"]


def test_rejects_a_foreign_npz(tmp_path):
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="not a jaxgossip traces file"):
        load_traces(tmp_path / "other.npz")


def test_a_bare_trace_is_saved_under_one_label(tmp_path, key):
    trace = _run(key)
    save_traces(tmp_path / "t.npz", trace, config={"v": 1})
    loaded, config = load_traces(tmp_path / "t.npz")
    assert list(loaded) == [jg.io.BARE_LABEL] == ["trace"] and config == {"v": 1}
    _assert_bit_exact(trace, loaded["trace"])
    with pytest.raises(TypeError, match="a Trace or a dict"):
        save_traces(tmp_path / "u.npz", [trace])


@pytest.mark.parametrize("keep", [0, 1, 100, 0.5, -1])
def test_truncated_file_raises_corrupt_file_error(tmp_path, key, keep):
    path = tmp_path / "t.npz"
    save_traces(path, {"a": _run(key)})
    data = path.read_bytes()
    path.write_bytes(data[: int(keep * len(data)) if isinstance(keep, float) else keep])
    with pytest.raises(jg.io.CorruptFileError, match="truncated or corrupt") as raised:
        load_traces(path)
    assert repr(os.fspath(path)) in str(raised.value)


def test_a_damaged_byte_is_found_never_loaded(tmp_path, key):
    # Every entry of the .npz carries a CRC-32: a flipped bit anywhere either
    # leaves the data intact (zip padding, timestamps) or is refused.
    path = tmp_path / "t.npz"
    trace = _run(key)
    save_traces(path, {"a": trace}, config={"v": 1})
    data = path.read_bytes()
    rng = np.random.default_rng(0)
    refused = 0
    for position in rng.choice(len(data), size=150, replace=False):
        damaged = bytearray(data)
        damaged[position] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(damaged))
        try:
            loaded, config = load_traces(path)
        except ValueError:  # CorruptFileError, or "not a jaxgossip traces file"
            refused += 1
            continue
        _assert_bit_exact(trace, loaded["a"])
        assert config == {"v": 1}
    assert refused > 100
