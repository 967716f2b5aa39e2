"""One sweep over several processes (``jax.distributed`` on 127.0.0.1, gloo CPU collectives).

Each test starts its processes itself (tests/study/distributed_worker.py,
joined through the JAXGOSSIP_* variables of ``distributed.initialize_from_env``),
waits for them with a time limit and kills any left over.

References: two processes hold one CPU device each, so they run the sweep's
batches sharded exactly as one process with two forced host devices does;
the two must agree bit for bit. One process on one device runs each batch
whole instead of in halves, so XLA may vectorize it otherwise: compared to
1e-6 relative (float32) — on this machine they were equal. Every process
compiles with this run's codegen flags (tests/conftest.py), as this one does.
"""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import jaxgossip as jg
from tests.conftest import child_xla_flags

WORKER = pathlib.Path(__file__).with_name("distributed_worker.py")
ROOT = WORKER.parents[2]
LIMIT = 120  # seconds any group of processes may take (a hang guard; the machine may be loaded)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(out, *args, num_processes=2, per_process=None, command=None):
    """Starts the worker (or ``command``, run in ``out``) as processes 0..num_processes-1
    of one run; their Popen objects. Process k's output goes to out/log<k>.txt."""
    coordinator = f"127.0.0.1:{free_port()}"
    procs = []
    for k in range(num_processes):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        env["XLA_FLAGS"] = child_xla_flags()  # one CPU device each
        env.update(
            JAXGOSSIP_COORDINATOR=coordinator,
            JAXGOSSIP_NUM_PROCESSES=str(num_processes),
            JAXGOSSIP_PROCESS_ID=str(k),
        )
        extra = per_process(k) if per_process else []
        cmd = command or [sys.executable, "-u", str(WORKER), str(out), *args, *extra]
        with open(out / f"log{k}.txt", "w") as log:  # the child keeps its own copy
            procs.append(
                subprocess.Popen(cmd, env=env, cwd=out, stdout=log, stderr=subprocess.STDOUT)
            )
    return procs


def wait_all(procs, limit=LIMIT) -> list[int]:
    """Every process's exit status; kills them all and fails past ``limit`` seconds."""
    deadline = time.monotonic() + limit
    try:
        return [p.wait(timeout=max(0.1, deadline - time.monotonic())) for p in procs]
    except subprocess.TimeoutExpired:
        pytest.fail(f"the processes did not all stop within {limit} s (a hang)")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def log(out, k) -> str:
    return (out / f"log{k}.txt").read_text()


def single_process(out, *args, devices=2):
    """The same sweep in one process on ``devices`` forced host devices."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for name in ("JAXGOSSIP_COORDINATOR", "JAXGOSSIP_NUM_PROCESSES", "JAXGOSSIP_PROCESS_ID"):
        env.pop(name, None)
    env["XLA_FLAGS"] = child_xla_flags(devices)
    cmd = [sys.executable, str(WORKER), str(out), *args]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=LIMIT)
    assert result.returncode == 0, result.stderr[-3000:]
    return np.load(out / "process0" / "dataset.npz")


def assert_identical(a, b):
    assert sorted(a.files) == sorted(b.files)
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_two_processes_return_the_single_process_sweep_and_only_process_0_writes(tmp_path):
    (tmp_path / "one").mkdir()
    procs = start(tmp_path)
    reference = single_process(tmp_path / "one")  # meanwhile
    assert wait_all(procs) == [0, 0], log(tmp_path, 0)[-3000:] + log(tmp_path, 1)[-3000:]
    for k in (0, 1):
        assert f"process {k} of 2 (joined: True) done" in log(tmp_path, k)
        # Every process got the whole Dataset, bit for bit that of 2 devices in one process.
        assert_identical(np.load(tmp_path / f"process{k}" / "dataset.npz"), reference)
    assert (tmp_path / "process0" / "result.npz").exists()
    assert not (tmp_path / "process1" / "result.npz").exists()
    saved = jg.load_sweep(tmp_path / "process0" / "result.npz")
    assert saved.attrs["num_devices"] == 2
    np.testing.assert_array_equal(saved["suboptimality"].values, reference["suboptimality"])

    # One device, one process (this one): the same to float32 rounding.
    ds = jg.sweep(
        jg.algorithms.AsyncGossipSGD,
        jg.problems.quadratic(jax.random.key(0), 8, 3),
        jg.Clocks(jg.graphs.ring(8)),
        num_events=2000,
        num_records=2,
        grid={"step_size": [0.03, 0.1, 0.3]},
        seeds=4,
        max_batch=4,
    )
    for name in ("suboptimality", "consensus", "time"):
        np.testing.assert_allclose(ds[name].values, reference[name], rtol=1e-6, err_msg=name)


def test_processes_given_different_grids_all_stop_naming_the_grid(tmp_path):
    steps = {0: "0.03,0.1,0.3", 1: "0.03,0.1,0.5"}
    begin = time.monotonic()
    procs = start(tmp_path, per_process=lambda k: ["--steps", steps[k]])
    codes = wait_all(procs)
    assert all(code != 0 for code in codes), codes
    for k in (0, 1):
        text = log(tmp_path, k)
        assert "the 2 processes were given different arguments" in text, text[-3000:]
        assert 'grid (process 0: {"step_size": [0.03, 0.1, 0.3]}' in text
        assert 'process 1: {"step_size": [0.03, 0.1, 0.5]}' in text
        assert not (tmp_path / f"process{k}").exists()  # nothing ran, nothing written
    assert time.monotonic() - begin < LIMIT


def test_a_killed_process_stops_the_others_and_all_resume_bit_for_bit(tmp_path):
    args = ["--chunks", "6", "--events", "12000"]
    (tmp_path / "one").mkdir()
    procs = start(tmp_path, *args)
    checkpoint = tmp_path / "ckpt.batch0"
    deadline = time.monotonic() + LIMIT
    while not checkpoint.exists() and procs[1].poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checkpoint.exists(), log(tmp_path, 0)[-3000:]
    procs[1].send_signal(signal.SIGKILL)
    killed = time.monotonic()
    codes = wait_all(procs)
    stopped_after = time.monotonic() - killed
    assert codes[0] != 0 and codes[1] == -signal.SIGKILL, codes
    assert not (tmp_path / "process0").exists(), "process 0 finished: the kill came too late"
    # Whichever notices first: the failed exchange (our RuntimeError, which says how to
    # resume), or, on a loaded machine, the coordinator's heartbeat check (JAX's abort).
    text = log(tmp_path, 0)
    lost = "lost contact with the other processes" in text and "resume=True" in text
    assert lost or "another task died" in text, text[-3000:]
    assert stopped_after < 45, stopped_after

    procs = start(tmp_path, *args, "--resume")
    reference = single_process(tmp_path / "one", *args)  # uninterrupted, meanwhile
    assert wait_all(procs) == [0, 0], log(tmp_path, 0)[-3000:] + log(tmp_path, 1)[-3000:]
    for k in (0, 1):
        assert_identical(np.load(tmp_path / f"process{k}" / "dataset.npz"), reference)
    # Progress is shown by process 0 only.
    assert "batch 3/3, chunk 6/6" in log(tmp_path, 0)
    assert "chunk" not in log(tmp_path, 1)


EXPERIMENT = """
name = "two_processes"
seed = 0
seeds = 2
num_events = 2_000
num_records = 10
eps = 0.01

[problem]
kind = "quadratic"
num_nodes = 8
dim = 3

[graph]
kind = "ring"

[[algorithms]]
name = "async_gossip_sgd"
[algorithms.grid]
step_size = [0.03, 0.1]
"""


def test_jaxgossip_run_under_the_recipe_writes_once_from_process_0(tmp_path):
    experiment = tmp_path / "two.toml"
    experiment.write_text(EXPERIMENT)
    command = [sys.executable, "-m", "jaxgossip", "run", str(experiment), "--out", "results"]
    procs = start(tmp_path, command=command)
    assert wait_all(procs) == [0, 0], log(tmp_path, 0)[-3000:] + log(tmp_path, 1)[-3000:]
    assert "results saved in" in log(tmp_path, 0)
    assert "results saved in" not in log(tmp_path, 1)  # process 1 is quiet
    written = sorted(os.listdir(tmp_path / "results"))
    assert written == ["ring.png", "ring__async_gossip_sgd.npz", "summary.txt"], written
    ds = jg.load_sweep(tmp_path / "results" / "ring__async_gossip_sgd.npz")
    assert ds.attrs["num_devices"] == 2 and ds["suboptimality"].shape == (2, 2, 11)
