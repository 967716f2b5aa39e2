"""NumPy replays of the synchronous algorithms, written independently of the JAX code.

Each module exposes ``replay(problem, mixing_dense_W, algorithm, x0, num_rounds,
rng_draws=None)``: it runs ``num_rounds`` rounds of the paper's matrix
recursion in float64 with a dense (n, n) gossip matrix and returns the final
state as the algorithm's state pytree of NumPy arrays.
"""
