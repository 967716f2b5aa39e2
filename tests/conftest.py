import os
import shutil
import tempfile

import jax
import pytest

CACHE_VARIABLE = "JAXGOSSIP_TESTS_COMPILATION_CACHE"
DEFAULT_CODEGEN_VARIABLE = "JAXGOSSIP_TESTS_DEFAULT_CODEGEN"
# Compiling, not running, is most of the suite's time, and most of compiling is
# LLVM turning each of a program's ~100-200 fused kernels into machine code.
# These flags change only that last stage (XLA's HLO passes, and so fusion, are
# unchanged): one codegen unit per kernel instead of several, and LLVM's
# optimization level 0. Measured with -n 2, tests/engine 220 -> 149 s wall
# (6.9 -> 4.6 CPU minutes). Level 0 does change round-off (no FMA contraction
# or vectorized reassociation; float64 final states differ at ~1e-13 relative
# after 200k events), so every bit-for-bit test here compares runs compiled
# alike, and tests/engine/test_default_codegen.py reruns the waves contract
# with XLA's default codegen, the one users get. Setting
# JAXGOSSIP_TESTS_DEFAULT_CODEGEN=1 runs the suite with the default.
TEST_CODEGEN_FLAGS = (
    "--xla_cpu_parallel_codegen_split_count=1",
    "--xla_backend_optimization_level=0",
)
if os.environ.get(DEFAULT_CODEGEN_VARIABLE) != "1":
    # Set before any backend starts; xdist workers and subprocesses inherit it. A
    # value the caller set for either flag wins.
    _given = os.environ.get("XLA_FLAGS", "")
    _added = [f for f in TEST_CODEGEN_FLAGS if f.split("=")[0] not in _given]
    os.environ["XLA_FLAGS"] = " ".join([*_given.split(), *_added])


def child_xla_flags(device_count: int | None = None) -> str:
    """XLA_FLAGS for a test's subprocess: this run's codegen flags (so what the
    child computes compares with what this process computes) and, if given, its own
    forced host device count in place of any inherited one."""
    device_flag = "--xla_force_host_platform_device_count"
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith(device_flag)]
    if device_count is not None:
        flags.append(f"{device_flag}={device_count}")
    return " ".join(flags)


def pytest_configure(config):
    """Shares compiled programs on disk between the test processes of one run.

    Each module drops its compiled programs (below) and pytest-xdist's workers
    compile the same ones again; JAX's persistent cache turns those recompiles
    into loads (measured with -n 2: tests/engine 9.2 -> 8.1 CPU minutes,
    tests/problems + tests/network 5.7 -> 5.5, within noise). The directory is fresh
    for each run (made by the first process, inherited by xdist's workers) and
    removed at its end, so no run reads another's programs.
    """
    if CACHE_VARIABLE not in os.environ:
        os.environ[CACHE_VARIABLE] = tempfile.mkdtemp(prefix="jaxgossip-tests-jit-")
        config.jaxgossip_owns_cache = True
    jax.config.update("jax_compilation_cache_dir", os.environ[CACHE_VARIABLE])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def pytest_unconfigure(config):
    if getattr(config, "jaxgossip_owns_cache", False):
        shutil.rmtree(os.environ.pop(CACHE_VARIABLE), ignore_errors=True)


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture
def x64():
    """Runs a test in float64, where convergence to high precision is asserted."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drops JAX's compiled programs after each test module.

    The suite compiles hundreds of programs; keeping them all alive in one
    process grows its memory without bound (and once aborted XLA mid-suite).
    """
    yield
    jax.clear_caches()
