"""A run killed by SIGKILL while writing a checkpoint resumes bit for bit, or refuses.

A victim is a process forked by this file run as a script: it runs a chunked,
checkpointed run and sends itself SIGKILL at a point its seed picks inside one
of the checkpoint writes: after some of the new file's bytes are written,
before the new file replaces the old one, or right after. The test then resumes
in its own process and requires the uninterrupted result bit for bit; and it
puts the torn temporary file the victim left (if any) in the checkpoint's place,
as a writer without atomic renames would, and requires either that result or
``io.CorruptFileError``, never another result.
"""

import io as pyio
import os
import pathlib
import random
import signal
import subprocess
import sys
import threading

import jax
import numpy as np

import jaxgossip as jg
from jaxgossip.engine.long_run import simulate_in_chunks

ROOT = pathlib.Path(__file__).resolve().parents[2]
NUM_CHUNKS = 4
PHASES = ("bytes", "before_replace", "after_replace")
SEEDS = list(range(6))  # two of each phase


def _run(checkpoint=None, resume=False):
    problem = jg.problems.quadratic(jax.random.key(1), 6, 3, kappa=5.0)
    clocks = jg.Clocks(jg.graphs.ring(6), compute_rate=1.0, comm_rate=np.arange(1.0, 7.0))
    return simulate_in_chunks(
        jax.random.key(0), jg.algorithms.AsyncGossipSGD(step_size=0.05), problem, clocks,
        num_events=200, num_records=8, num_chunks=NUM_CHUNKS, checkpoint=checkpoint,
        resume=resume, progress=False,
    )  # fmt: skip


def _kill_point(seed: int) -> tuple[int, str, float]:
    """(which checkpoint write, 1..NUM_CHUNKS; the phase; the fraction of bytes written)."""
    rng = random.Random(seed)
    return rng.randrange(1, NUM_CHUNKS + 1), PHASES[seed % len(PHASES)], rng.random()


def _victim(checkpoint: str, seed: int) -> None:
    """Runs the chunked run and SIGKILLs itself inside the write the seed picks."""
    target, phase, fraction = _kill_point(seed)
    real_savez, real_replace = np.savez, os.replace
    writes = {"savez": 0, "replace": 0}

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    def savez(file, **arrays):
        writes["savez"] += 1
        if writes["savez"] != target or phase != "bytes":
            return real_savez(file, **arrays)
        buffer = pyio.BytesIO()
        real_savez(buffer, **arrays)
        data = buffer.getvalue()
        file.write(data[: int(fraction * len(data))])
        file.flush()
        os.fsync(file.fileno())
        die()

    def replace(source, destination, *args, **kwargs):
        if os.fspath(destination) != checkpoint:
            return real_replace(source, destination, *args, **kwargs)
        writes["replace"] += 1
        hit = writes["replace"] == target
        if hit and phase == "before_replace":
            die()
        real_replace(source, destination, *args, **kwargs)
        if hit and phase == "after_replace":
            die()

    np.savez, os.replace = savez, replace
    _run(checkpoint)
    raise SystemExit("the victim was not killed")


def _assert_equal(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        x, y = np.asarray(x), np.asarray(y)
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()


def _victims(folder: pathlib.Path, seeds: list[int]) -> None:
    """Forks one victim per seed, one after another, from this process.

    Importing jax and jaxgossip costs ~3 s and starts no thread nor backend,
    so the victims fork from one process that did it once; each child then
    starts its own backend and loads the run compiled by the first child from
    the persistent compilation cache. Prints each victim's exit signal.
    """
    assert threading.active_count() == 1, "fork only a process of one thread"
    for seed in seeds:
        pid = os.fork()
        if pid == 0:
            try:
                _victim(os.fspath(folder / f"seed{seed}" / "run.ckpt"), seed)
            finally:
                os._exit(1)  # never back into the parent's code
        _, status = os.waitpid(pid, 0)
        print(seed, os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1, flush=True)


def test_killed_checkpoint_writes_resume_bit_for_bit_or_refuse(tmp_path):
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        JAX_COMPILATION_CACHE_DIR=os.fspath(tmp_path / "cache"),
        JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
        JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0",
    )
    folders = {seed: tmp_path / f"seed{seed}" for seed in SEEDS}
    for folder in folders.values():
        folder.mkdir()
    command = [sys.executable, __file__, os.fspath(tmp_path), *map(str, SEEDS)]
    victims = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    uninterrupted = _run()  # meanwhile
    stdout, stderr = victims.communicate(timeout=300)
    assert victims.returncode == 0, stderr[-2000:]
    killed = dict(line.split() for line in stdout.splitlines())
    assert killed == {str(seed): str(int(signal.SIGKILL)) for seed in SEEDS}, stderr[-2000:]
    outcomes = {}
    for seed, folder in folders.items():
        torn = [p for p in folder.iterdir() if p.name.endswith(".tmp")]
        _assert_equal(uninterrupted, _run(os.fspath(folder / "run.ckpt"), resume=True))
        for temporary in torn:  # as if it had been renamed into place
            os.replace(temporary, folder / "torn.ckpt")
            try:
                resumed = _run(os.fspath(folder / "torn.ckpt"), resume=True)
            except jg.io.CorruptFileError as error:
                assert "Delete it or pass resume=False" in str(error)
                outcomes[seed] = "torn file refused"
            else:
                _assert_equal(uninterrupted, resumed)
                outcomes[seed] = "torn file complete"
    # Both branches ran: a torn file (killed mid-write) and a complete one (before the move).
    assert set(outcomes.values()) == {"torn file refused", "torn file complete"}, outcomes


if __name__ == "__main__":
    _victims(pathlib.Path(sys.argv[1]), [int(seed) for seed in sys.argv[2:]])
