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
