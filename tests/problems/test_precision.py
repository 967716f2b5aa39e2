"""Small suboptimalities stay accurate in float32, and targets below what a
dtype resolves are warned about (issue #13, item 3)."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

import jaxgossip as jg


def _problems(x64: bool):
    with jax.enable_x64(x64):
        features = np.random.default_rng(3).normal(size=(8 * 20, 5))
        targets = features @ np.linspace(-1, 1, 5) + 0.3
        parts = jg.problems.partition(jax.random.key(0), features, targets, 8)
        return {
            "quadratic": jg.problems.quadratic(jax.random.key(0), num_nodes=8, dim=5, kappa=10.0),
            "least_squares": jg.problems.least_squares(*parts, reg=0.1),
            "logistic": jg.problems.logistic_regression(
                jax.random.key(0), num_nodes=8, samples_per_node=20, dim=5
            ),
        }


@pytest.mark.parametrize("name", ["quadratic", "least_squares", "logistic"])
@pytest.mark.parametrize("offset", [1e-2, 1e-3, 1e-4])
def test_float32_suboptimality_matches_float64_far_below_the_resolution_of_f_star(name, offset):
    """f(x* + offset) - f* in float32 within 1% of float64. Subtracting f* from
    f(x) in float32 (the old metric) gives 0 or a multiple of ulp(f*) ~ 6e-8
    here: at offset 1e-4 the gap is ~1e-9."""
    p64 = _problems(True)[name]
    p32 = _problems(False)[name]
    direction = np.linspace(1.0, -0.5, 5)
    with jax.enable_x64(True):
        x = np.asarray(p32.x_star, np.float64) + offset * direction  # a float32-exact point
        x = x.astype(np.float32).astype(np.float64)
        exact = float(p64.suboptimality(jnp.asarray(x)))
    measured = float(p32.suboptimality(jnp.asarray(x, jnp.float32)))
    floor = p32.suboptimality_floor()
    assert exact > 100 * floor  # the floor is far below what is checked
    np.testing.assert_allclose(measured, exact, rtol=1e-2)
    # the whole-network metrics the engines record use it too
    metrics = jg.engine.trace.network_metrics(p32, jnp.asarray(np.tile(x, (8, 1)), jnp.float32), ())
    np.testing.assert_allclose(float(metrics["suboptimality"]), exact, rtol=1e-2)
    np.testing.assert_allclose(float(metrics["mean_suboptimality"]), exact, rtol=1e-2)


@pytest.mark.parametrize("scale", [0.3, 0.01])
def test_bregman_form_equals_the_plain_difference_in_float64(scale):
    """At scale 0.3 some margin moves by more than 1 (the logistic loss's far
    branch), at 0.01 none does (its near-only shortcut)."""
    for name, problem in _problems(True).items():
        with jax.enable_x64(True):
            x = jnp.asarray(np.asarray(problem.x_star) + scale * np.arange(5))
            if name == "logistic":
                margins = np.asarray(problem.features) @ np.asarray(x - problem.x_star)
                assert (np.abs(margins).max() > 1) == (scale == 0.3)
            np.testing.assert_allclose(
                float(problem.suboptimality(x)),
                float(problem.value(x) - problem.f_star),
                rtol=1e-10,
                err_msg=name,
            )


def test_default_floor_is_the_resolution_of_f_star():
    """A problem without a cancellation-free form: the floor is eps |f*|."""

    class Plain(type(_problems(False)["logistic"])):
        exact_suboptimality = False  # as a user's problem that keeps f(x) - f*

        def suboptimality(self, x):
            return self.value(x) - self.f_star

    logistic = _problems(False)["logistic"]
    fields = ("x_star", "f_star", "L", "mu", "features", "labels", "reg")
    plain = Plain(**{f: getattr(logistic, f) for f in fields})
    assert plain.suboptimality_floor() == pytest.approx(
        float(np.finfo(np.float32).eps) * abs(float(plain.f_star))
    )
    assert _problems(False)["logistic"].suboptimality_floor() < 1e-12


def test_eps_below_the_floor_warns_and_names_the_ways_to_float64():
    problem = _problems(False)["logistic"]
    with pytest.warns(
        jg.PrecisionWarning, match=r"jax_enable_x64.*precision = \"float64\".*--float64"
    ):
        jg.check_precision(problem, 1e-16, "test")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jg.check_precision(problem, 1e-9, "test")  # resolved in float32 now
    ds = xr.Dataset(
        {
            "suboptimality": (("seed", "record"), [[1.0, 1e-17]]),
            "num_computations": (("seed", "record"), [[0, 10]]),
        },
        attrs={"suboptimality_floor": 1e-15},
    )
    with pytest.warns(jg.PrecisionWarning):
        jg.to_reach(ds, 1e-16)


def test_local_kappa_and_the_condition_number_of_f_are_both_reported():
    """quadratic(kappa=K) prescribes the local kappa; with random per-node bases
    the average f is far better conditioned, with shared_basis it is exactly K
    (issue #13, item 6)."""
    for kappa in (10.0, 100.0, 1000.0):
        rotated = jg.problems.quadratic(jax.random.key(0), num_nodes=16, dim=4, kappa=kappa)
        shared = jg.problems.quadratic(
            jax.random.key(0), num_nodes=16, dim=4, kappa=kappa, shared_basis=True
        )
        assert float(rotated.kappa) == pytest.approx(kappa)
        assert rotated.condition_number() < 3.0  # measured 2.07 / 2.45 / 2.50
        assert float(shared.kappa) == pytest.approx(kappa)
        assert shared.condition_number() == pytest.approx(kappa, rel=1e-4)
    logistic = _problems(False)["logistic"]
    condition = logistic.condition_number()  # by autodiff at x*
    assert 1.0 < condition <= float(logistic.kappa) * (1 + 1e-5)


@pytest.mark.parametrize("scale", [0.3, 0.01])
def test_logistic_suboptimalities_equal_the_suboptimality_of_each_row(scale):
    """Its matrix form with one far-branch test for all rows, against one row at a
    time: at scale 0.01 every row takes the near-only shortcut, at 0.3 some do not."""
    problem = _problems(True)["logistic"]
    with jax.enable_x64(True):
        offsets = np.random.default_rng(1).normal(size=(6, 5)) * scale
        offsets[0] = 0.0  # x* itself: exactly 0
        xs = jnp.asarray(np.asarray(problem.x_star) + offsets)
        rows = [float(problem.suboptimality(x)) for x in xs]
        np.testing.assert_allclose(np.asarray(problem.suboptimalities(xs)), rows, rtol=1e-12)
    assert rows[0] == 0.0 and min(rows[1:]) > 0.0
