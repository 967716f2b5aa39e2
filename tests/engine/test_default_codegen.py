"""The waves contract holds with XLA's default codegen too, the one users run.

The suite compiles with LLVM's optimization level 0 (tests/conftest.py), which
rounds differently from the default (FMA contraction, vectorized sums). Waves
and time order are different programs, so "bit for bit" must be checked where
users get it as well: this reruns the registry-wide contract, the vmapped
one, and the registry-wide check that a batch's two-scatter writes give the
runs of one-scatter writes (tests/engine/test_batched_writes.py) in a fresh
process with the default flags.
"""

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import CACHE_VARIABLE, DEFAULT_CODEGEN_VARIABLE, TEST_CODEGEN_FLAGS

ROOT = Path(__file__).resolve().parents[2]


def test_waves_equal_time_order_with_the_default_codegen():
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if f not in TEST_CODEGEN_FLAGS]
    env = dict(os.environ, XLA_FLAGS=" ".join(flags), **{DEFAULT_CODEGEN_VARIABLE: "1"})
    env.pop(CACHE_VARIABLE, None)  # its own compilation cache, not one of other flags
    select = "every_method_gives_the_same_run or vmapped_waves_equal_single_runs or batched_writes"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    command += ["tests/engine/test_waves.py", "tests/engine/test_batched_writes.py", "-k", select]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "deselected" in result.stdout, result.stdout[-2000:]
