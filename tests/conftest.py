import jax
import pytest


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
