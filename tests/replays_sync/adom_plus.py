"""NumPy replay of ADOM+ (Kovalev, Gasanov, Gasnikov, Richtarik, NeurIPS 2021, Algorithm 2).

The gossip operator G from W_p = I - W (dense), normalized by its spectrum
(np.linalg.eigvalsh): the matrix power I - (I - W_p / lambda_max)^K (plain
multi-consensus), or the accelerated gossip recursion of Scaman et al. divided
by (1 + c1^K)^2 / (1 + c1^{2K}), c1 = (1 - sqrt(gamma)) / (1 + sqrt(gamma)) (Chebyshev). The two
implicit lines of the iteration are solved as one dense linear system per
round (np.linalg.solve on the stacked unknowns (x+, y+)), independently of the
closed form used by the engine.
"""

import numpy as np

from jaxgossip.algorithms.synchronous.adom_plus import ADOMPlusState
from tests import reference
from tests.replays_sync.msda import accelerated_gossip, chebyshev_coefficients


def replay(problem, mixing, algorithm, x0, num_rounds, rng_draws=None):
    """Runs ``num_rounds`` rounds in float64; ``mixing`` is the dense W (n, n), or
    (K, n, n) for a time-varying network: round r uses W_{r mod K}, G normalized
    by the largest lambda_max(I - W_k) (plain gossip only)."""
    del rng_draws
    gradient = reference.gradient_of(problem)
    gossips = _gossip_operators(np.asarray(mixing, np.float64), algorithm)
    n = gossips[0].shape[0]
    p = {
        name: float(getattr(algorithm, name))
        for name in ("tau1 tau2 sigma1 sigma2 eta theta alpha beta gamma delta nu zeta").split()
    }
    eta, alpha, theta, beta, nu = (p[k] for k in ("eta", "alpha", "theta", "beta", "nu"))
    # Unknowns (x+, y+) per coordinate:
    #   (1 + eta alpha) x+ - eta y+                  = x + eta alpha x_g - eta s
    #   theta x+ + (1 + theta beta) y+               = y + theta beta s - theta (y_g + z_g) / nu
    system = np.array([[1.0 + eta * alpha, -eta], [theta, 1.0 + theta * beta]])
    x = np.array(x0, np.float64)
    x_f = x.copy()
    y, y_f, z, z_f, m = (np.zeros_like(x) for _ in range(5))
    for r in range(num_rounds):
        g_matrix = gossips[r % len(gossips)]
        x_g = p["tau1"] * x + (1.0 - p["tau1"]) * x_f
        y_g = p["sigma1"] * y + (1.0 - p["sigma1"]) * y_f
        z_g = p["sigma1"] * z + (1.0 - p["sigma1"]) * z_f
        s = np.stack([gradient(i, x_g[i]) for i in range(n)]) - nu * x_g
        rhs = np.stack(
            [
                x + eta * alpha * x_g - eta * s,
                y + theta * beta * s - theta * (y_g + z_g) / nu,
            ]
        )  # (2, n, d)
        x_new, y_new = np.einsum("ab,bnd->and", np.linalg.inv(system), rhs)
        u = p["gamma"] / nu * (y_g + z_g) + m
        g_u = g_matrix @ u
        x_f = x_g + p["tau2"] * (x_new - x)
        y_f = y_g + p["sigma2"] * (y_new - y)
        z = z + p["gamma"] * p["delta"] * (z_g - z) - g_u
        m = u - g_u
        z_f = z_g - p["zeta"] * (g_matrix @ (y_g + z_g))
        x, y = x_new, y_new
    return ADOMPlusState(x=x, x_f=x_f, y=y, y_f=y_f, z=z, z_f=z_f, m=m)


def _gossip_operators(mixing: np.ndarray, algorithm) -> list[np.ndarray]:
    """The dense G of each round's W: one for a fixed W (n, n), K for (K, n, n)."""
    matrices = mixing if mixing.ndim == 3 else mixing[None]
    n = matrices.shape[1]
    laps = np.eye(n)[None] - matrices
    steps = algorithm.num_gossip_steps
    if algorithm.chebyshev:
        assert len(laps) == 1, "Chebyshev gossip needs a fixed network"
        gap, _, _, _ = chebyshev_coefficients(laps[0])
        ck = ((1.0 - np.sqrt(gap)) / (1.0 + np.sqrt(gap))) ** steps
        scale = (1.0 + ck**2) / (1.0 + ck) ** 2
        # The recursion is linear: its matrix is its action on the identity.
        return [scale * accelerated_gossip(laps[0], np.eye(n), steps)]
    lambda_max = max(np.linalg.eigvalsh(lap)[-1] for lap in laps)
    return [np.eye(n) - np.linalg.matrix_power(np.eye(n) - lap / lambda_max, steps) for lap in laps]
