"""Timing shared by the benchmark scripts.

This machine's speed drifts by tens of percent between back-to-back timings,
so programs that are compared are timed in turns and each keeps its best.
"""

from __future__ import annotations

import time

import jax


def best_times(fns, repeats):
    """Best time of each function, timed in turns (compiled outside the timing)."""
    for fn in fns:
        jax.block_until_ready(fn())
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, spent in zip(fns, times):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            spent.append(time.perf_counter() - start)
    return [min(spent) for spent in times]
