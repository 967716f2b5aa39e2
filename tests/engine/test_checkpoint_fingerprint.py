"""A checkpoint resumes only the run it came from, and a damaged one is refused by name.

Each case below was accepted before (a per-array sum of some inputs was the
check): another ``x0``, permuted rates or node data (equal sums), another x64
flag or library version; a corrupt file raised ``BadZipFile``; a checkpoint in
a missing folder failed after the first chunk, naming a temporary file.
"""

import os
import shutil
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
import jaxgossip.engine.long_run as long_run
from jaxgossip.engine import fingerprint
from jaxgossip.engine.long_run import simulate_in_chunks

N, DIM = 8, 3
SIZES = dict(num_events=400, num_records=8, num_chunks=4)


class Interrupted(Exception):
    pass


def _inputs(**changes):
    inputs = dict(
        key=jax.random.key(0),
        algorithm=jg.algorithms.AsyncGossipSGD(step_size=0.05),
        problem=jg.problems.quadratic(jax.random.key(1), N, DIM, kappa=5.0),
        network=jg.Clocks(jg.graphs.ring(N), compute_rate=1.0, comm_rate=np.arange(1.0, N + 1)),
        x0=None,
    )
    return inputs | changes


def _run(path, *, resume=False, on_chunk=None, sizes=SIZES, **changes):
    inputs = _inputs(**changes)
    return simulate_in_chunks(
        inputs["key"], inputs["algorithm"], inputs["problem"], inputs["network"],
        x0=inputs["x0"], **sizes, checkpoint=path, resume=resume, progress=False,
        on_chunk=on_chunk,
    )  # fmt: skip


def _stop_after_two(chunks_done, trace):
    if chunks_done == 2:
        raise Interrupted


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A checkpoint of the base run, stopped after 2 of its 4 chunks."""
    path = tmp_path_factory.mktemp("ckpt") / "run.ckpt"
    with pytest.raises(Interrupted):
        _run(path, on_chunk=_stop_after_two)
    return path


def _reversed_nodes(problem):
    """The same n-sum with its nodes in reverse order: every per-array sum is unchanged."""
    return jax.tree.map(lambda a: a[::-1] if a.ndim and a.shape[0] == N else a, problem)


CHANGES = {
    "x0": (dict(x0=jnp.ones(DIM)), ["x0", "initial_state"]),
    "permuted rates": (
        dict(network=jg.Clocks(jg.graphs.ring(N), 1.0, np.arange(N, 0.0, -1.0))),
        ["network"],
    ),
    "permuted nodes": (dict(problem=_reversed_nodes(_inputs()["problem"])), ["problem"]),
    "step size": (dict(algorithm=jg.algorithms.AsyncGossipSGD(step_size=0.1)), ["algorithm"]),
    "algorithm class": (
        dict(algorithm=jg.algorithms.ADPSGD(step_size=0.05)),
        ["algorithm", "initial_state"],  # AD-PSGD's state is not gossip-SGD's
    ),
    "key": (dict(key=jax.random.key(5)), ["key"]),
    "x0 and rates": (
        dict(x0=jnp.ones(DIM), network=jg.Clocks(jg.graphs.ring(N), 1.0, np.arange(N, 0.0, -1.0))),
        ["network", "x0", "initial_state"],
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_resume_refuses_a_checkpoint_of_another_run_naming_what_differs(checkpoint, change):
    changes, parts = CHANGES[change]
    with pytest.raises(ValueError, match="comes from another run") as raised:
        _run(checkpoint, resume=True, **changes)
    message = str(raised.value)
    assert os.fspath(checkpoint) in message and "resume=False" in message
    named = message.split("differs in ")[1].split(". Delete")[0].split(", ")
    assert sorted(named) == sorted(parts), message


def test_resume_refuses_another_budget_showing_both_values(checkpoint):
    with pytest.raises(ValueError, match=r"num_chunks \(4 in the checkpoint, 2 now\)"):
        _run(checkpoint, resume=True, sizes=SIZES | {"num_chunks": 2})


def test_resume_refuses_another_library_version(checkpoint, monkeypatch):
    monkeypatch.setattr(jg.version, "VERSION", "99.0.0")
    with pytest.raises(ValueError, match=r"version \('0\.1\.0' in the checkpoint, '99\.0\.0'"):
        _run(checkpoint, resume=True)


def test_resume_refuses_another_x64_flag(checkpoint):
    with jax.enable_x64(True), pytest.raises(ValueError, match=r"x64 \(False in the checkpoint"):
        _run(checkpoint, resume=True)


def test_resume_accepts_rebuilt_equal_inputs_bit_for_bit(checkpoint, tmp_path):
    path = tmp_path / "copy.ckpt"
    shutil.copy(checkpoint, path)
    resumed = _run(path, resume=True, **_inputs())  # new objects, same values
    whole = _run(None)
    for a, b in zip(jax.tree.leaves(whole), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "flipped byte"])
def test_corrupt_checkpoint_raises_naming_the_file_and_the_fix(checkpoint, tmp_path, damage):
    data = checkpoint.read_bytes()
    path = tmp_path / "bad.ckpt"
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "empty":
        data = b""
    elif damage == "garbage":
        data = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))
    else:
        data = bytearray(data)
        data[len(data) // 3] ^= 0x01  # inside an array: the entry's CRC-32 catches it
        data = bytes(data)
    path.write_bytes(data)
    with pytest.raises(jg.io.CorruptFileError) as raised:
        _run(path, resume=True)
    message = str(raised.value)
    assert repr(os.fspath(path)) in message
    assert "Delete it or pass resume=False" in message
    assert path.read_bytes() == data  # refused, not overwritten


def test_traces_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "results.npz"
    jg.io.save_traces(path, _run(None), config={"mine": 1})
    with pytest.raises(jg.io.CorruptFileError, match="not a checkpoint"):
        _run(path, resume=True)


def test_checkpoint_in_a_missing_folder_fails_before_any_work(tmp_path, monkeypatch):
    def no_work(*args, **kwargs):
        raise AssertionError("a chunk ran before the checkpoint path was checked")

    monkeypatch.setattr(long_run, "simulate", no_work)
    path = tmp_path / "missing" / "run.ckpt"
    with pytest.raises(FileNotFoundError, match="does not exist") as raised:
        _run(path)
    assert repr(os.fspath(path.parent)) in str(raised.value) and ".tmp" not in str(raised.value)
    with pytest.raises(IsADirectoryError, match="is a folder"):
        _run(tmp_path)


# --- the digest itself ---------------------------------------------------------------


class _Pair(NamedTuple):
    a: object
    b: object


class _WithStatic(eqx.Module):
    x: jax.Array
    name: str = eqx.field(static=True)


def _closure(value):
    return lambda x: x * value


DIFFERENT = {
    "dtype": (np.zeros(3, np.float32), np.zeros(3, np.float64)),
    "shape": (np.zeros((1, 3)), np.zeros(3)),
    "signed zero": (np.array([0.0]), np.array([-0.0])),
    "order": (np.array([1.0, 2.0]), np.array([2.0, 1.0])),
    "container": ((1, 2), [1, 2]),
    "namedtuple": (_Pair(1, 2), (1, 2)),
    "dict key": ({"a": 1}, {"b": 1}),
    "static field": (_WithStatic(jnp.ones(2), "p"), _WithStatic(jnp.ones(2), "q")),
    "lambda constant": (lambda s: s * 0.9, lambda s: s * 0.8),
    "closure value": (_closure(jnp.ones(2)), _closure(jnp.zeros(2))),
    "prng key": (jax.random.key(0), jax.random.key(1)),
    "key vs its data": (jax.random.key(0), jax.random.key_data(jax.random.key(0))),
    "int vs float": (1, 1.0),
}


@pytest.mark.parametrize("case", list(DIFFERENT))
def test_digest_tells_apart_what_a_sum_does_not(case):
    a, b = DIFFERENT[case]
    assert fingerprint.digest(a) != fingerprint.digest(b)


def test_digest_is_equal_for_equal_values_built_anew():
    def build():
        return (
            jg.problems.quadratic(jax.random.key(1), N, DIM),
            _WithStatic(jnp.arange(3.0), "p"),
            lambda s: s * 0.9,
            _closure(jnp.ones(2)),
            {"k": [jax.random.key(3), None]},
        )

    assert fingerprint.digest(build()) == fingerprint.digest(build())


def test_fingerprint_of_an_older_format_differs_in_every_part():
    current = fingerprint.parts(key=jax.random.key(0), num_events=10)
    old = {"key": [0, 0], "algorithm": "AsyncGossipSGD", "inputs_digest": [1.0]}
    found = fingerprint.differences(old, current)
    assert found[0] == "key"  # a digest now: named, not shown
    assert any(part.startswith("inputs_digest") for part in found)
    assert fingerprint.differences(None, current) == ["all (the checkpoint holds no fingerprint)"]
