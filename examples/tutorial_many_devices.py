"""Many devices: one sweep sharded over 4 devices, the same on 1, the same results.

``jg.sweep`` shards its batch of runs over every device JAX sees (a ``"runs"``
mesh axis), or over the ones given as ``devices=``. This script makes the CPU
look like 4 devices, runs one sweep of AsyncGossipSGD on a ring of 16 nodes over
all 4 and again restricted to 1, checks that both give the same Dataset, and
times each (first call, which compiles, and a second one, which reuses it).
Where JAX finds GPUs or TPUs it lists those instead (the flag only splits the
CPU), and the same script shards over them.

    python examples/tutorial_many_devices.py [--quick] [--out DIR]
"""

from __future__ import annotations

import os

# The device count is read once, when JAX starts its backend: set it before
# importing jax (or anything that imports it), keeping the flags already set.
FLAG = "--xla_force_host_platform_device_count=4"
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {FLAG}".strip()

import argparse  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402

import jaxgossip as jg  # noqa: E402


def called_twice(fn):
    """fn's result and the wall time of two calls: the first compiles, the second reuses it."""
    seconds = []
    for _ in range(2):
        start = time.perf_counter()
        result = fn()  # sweep returns host NumPy data: the work is done
        seconds.append(time.perf_counter() - start)
    return result, seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer events and seeds")
    parser.add_argument("--out", default=".", help="folder of the figure")
    args = parser.parse_args(argv)
    num_events, seeds = (20_000, 4) if args.quick else (200_000, 8)
    os.makedirs(args.out, exist_ok=True)

    devices = jax.devices()
    print(f"{len(devices)} devices: {', '.join(str(d) for d in devices)}")

    problem = jg.problems.logistic_regression(
        jax.random.key(0), num_nodes=16, dim=10, samples_per_node=32, reg=1e-2
    )
    clocks = jg.Clocks(jg.graphs.ring(16), compute_rate=1.0, comm_rate=1.0)

    # One sweep, two placements: every device (the default) or only the first.
    def run(on):
        return jg.sweep(
            jg.algorithms.AsyncGossipSGD,
            problem,
            clocks,
            num_events=num_events,
            num_records=50,
            grid={"step_size": [0.5, 1.0, 2.0], "comm_rate": [0.5, 2.0]},
            seeds=seeds,
            devices=on,
        )

    many = f"{len(devices)} devices"
    seconds = {}
    sharded, seconds[many] = called_twice(lambda: run(None))
    single, seconds["1 device"] = called_twice(lambda: run(devices[:1]))
    for label, ds in ((many, sharded), ("1 device", single)):
        runs = ds.sizes["step_size"] * ds.sizes["comm_rate"] * ds.sizes["seed"]
        first, second = seconds[label]
        print(
            f"{label}: {runs} runs, num_devices={ds.attrs['num_devices']}, "
            f"first call {first:.2f} s, second {second:.2f} s"
        )

    # The same runs see the same events, so the counters agree exactly. The metrics
    # may differ in float32 rounding: a batch run as 4 shards is vectorized otherwise
    # than whole, the last bits of the iterates differ (relative 1e-7) and compound
    # over the events. Late in a run f - f* and the consensus distance are small
    # against the iterates, so their relative error grows as they shrink: bound the
    # difference against each metric's scale (its largest value) instead.
    for name in ("time", "num_computations", "num_communications"):
        np.testing.assert_array_equal(sharded[name], single[name], err_msg=name)
    for name in ("suboptimality", "consensus"):
        scale = float(np.abs(single[name]).max())
        diff = float(np.abs(sharded[name] - single[name]).max())
        print(f"{name}: max |{many} - 1 device| = {diff:.3g} ({diff / scale:.2g} of its scale)")
        np.testing.assert_allclose(sharded[name], single[name], rtol=0, atol=1e-5 * scale)
    print(f"{many} equal 1 device: counters exactly, metrics to 1e-5 of their scale")

    # Left: the sweep's median curves (every device, lines; 1 device, dots on them).
    # Right: wall time of each placement, first and second call.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.4), layout="constrained")
    curves, bars = fig.subplots(1, 2, width_ratios=(2, 1))
    for comm_rate, style in zip(sharded.comm_rate.values, ("-", "--")):
        for color, step_size in enumerate(sharded.step_size.values):
            at = dict(step_size=step_size, comm_rate=comm_rate)
            x = sharded.num_computations.sel(**at).median("seed")
            curves.plot(
                x,
                sharded.suboptimality.sel(**at).median("seed"),
                style,
                color=f"C{color}",
                label=f"step {step_size:g}, comm {comm_rate:g}",
            )
            dots = single.suboptimality.sel(**at).median("seed")
            curves.plot(x[::5], dots[::5], ".", color=f"C{color}")
    curves.set(yscale="log", xlabel="computations", ylabel="f(x̄) − f*")
    curves.set_title(f"median over seeds: {many} (lines), 1 device (dots)")
    curves.legend(fontsize=7, ncols=2)
    labels = list(seconds)
    where = np.arange(len(labels))
    bars.bar(where - 0.2, [seconds[k][0] for k in labels], 0.4, label="first call (compiles)")
    bars.bar(where + 0.2, [seconds[k][1] for k in labels], 0.4, label="second call")
    bars.set_xticks(where, labels)
    bars.set(ylabel="wall time (s)", title="the whole sweep")
    bars.legend(fontsize=7)
    figure = os.path.join(args.out, "many_devices.png")
    fig.savefig(figure, dpi=90)
    print(f"figure: {figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
