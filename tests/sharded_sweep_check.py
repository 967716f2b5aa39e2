"""Runs a sweep sharded over 4 host devices and on one device; checks they agree.

Run by tests/test_sweep.py in a subprocess with
XLA_FLAGS=--xla_force_host_platform_device_count=4 (the device count is fixed
when JAX starts, so it cannot be set inside the test process). Exits 0 on success.
"""

import jax
import numpy as np

import jaxgossip as jg
from jaxgossip.study.sweep import METRICS, _put, sweep


def main():
    devices = jax.devices()
    assert len(devices) == 4, f"expected 4 devices, got {devices}"

    key = jax.random.key(0)
    problem = jg.problems.quadratic(key, 8, 3)
    clocks = jg.Clocks(jg.graphs.ring(8))
    kwargs = dict(
        num_events=2000,
        num_records=10,
        grid={"step_size": [0.03, 0.1, 3.0], "comm_rate": [0.5, 2.0]},
        seeds=2,
        max_batch=8,  # 12 runs: two batches of 8, the second padded
    )
    sharded = sweep(jg.algorithms.AsyncGossipSGD, problem, clocks, **kwargs)
    single = sweep(jg.algorithms.AsyncGossipSGD, problem, clocks, devices=devices[:1], **kwargs)

    assert sharded.attrs["num_devices"] == 4, sharded.attrs
    assert single.attrs["num_devices"] == 1, single.attrs
    for name in METRICS:
        np.testing.assert_allclose(sharded[name], single[name], rtol=1e-6, err_msg=name)
    assert bool(sharded["diverged"].sel(step_size=3.0).all("seed").any())

    # The placement the sweep uses puts one quarter of the batch on each device.
    mesh = jax.sharding.Mesh(np.array(devices), ("runs",))
    runs = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))
    placed = _put({"x": np.arange(8.0)}, runs)["x"]
    shards = placed.addressable_shards
    assert len(shards) == 4 and len({s.device for s in shards}) == 4
    assert all(s.data.shape == (2,) for s in shards)
    print("sharded sweep: OK")


if __name__ == "__main__":
    main()
