"""The synchronous engine: whole-network rounds, for the optimal baselines.

A synchronous algorithm advances the whole network one round at a time: in a
typical round every node computes one local gradient and then takes one gossip
step with its neighbours. The state is one pytree whose per-node leaves have a
leading node axis (n, ...), as in the asynchronous engine; a round is written
on the whole network (it is matrix algebra: W @ X, gradients of every row),
and reports its own cost as a ``RoundCost``.

Gossip matrices are ``Mixing`` objects: a symmetric, doubly stochastic W stored
as its edge weights and applied in O(E d) with ``jax.ops.segment_sum``, never
as a dense (n, n) matrix. ``simulate_rounds`` runs a ``lax.scan`` over rounds,
records the same metrics as ``jaxgossip.engine.events.simulate`` into the same ``Trace``,
and is compiled once per shape: hyperparameters are array leaves of the
algorithm, so new values reuse the compiled run and ``jax.vmap`` sweeps them.

A network that changes every round is a ``TimeVaryingMixing`` (K gossip
matrices on their union graph, cycled): round r sees ``mixing.at(r)``, a plain
``Mixing`` whose eigenvalues are the worst case over the sequence. Only
algorithms whose ``time_varying`` class flag is set (their theory covers it:
D-SGD, DIGing, ADOM+, and the centralized references, which ignore the
network) accept one.

Keys: ``simulate_rounds(key, ...)`` hands ``init`` an oracle keyed by
``init_key(key)`` and round r an oracle keyed by ``round_key(key, r)``; the
gradient of node i in that round uses ``jax.random.fold_in(oracle.key, i)``.

A run continues across calls: ``simulate_rounds(key, ..., initial_state=s,
start_round=r0)`` runs rounds r0, r0 + 1, ... with the same keys and mixing
matrices as one long run would, and its trace's ``time`` goes on from r0, so
chunks of a run (``jaxgossip.engine.long_run``) equal that run bit for bit.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jaxgossip.algorithms.base import Oracle, SyncAlgorithm, check_problem_setting
from jaxgossip.engine.trace import (
    Trace,
    assemble_trace,
    check_run_sizes,
    check_start,
    initial_points,
    network_metrics,
)
from jaxgossip.network.mixing import Mixing, TimeVaryingMixing
from jaxgossip.problems.base import Problem


def init_key(key: jax.Array) -> jax.Array:
    """The key of the oracle handed to ``SyncAlgorithm.init`` by ``simulate_rounds(key, ...)``."""
    return jax.random.split(key)[0]


def round_key(key: jax.Array, r) -> jax.Array:
    """The key of round r's oracle in ``simulate_rounds(key, ...)`` (r = 0, 1, ...)."""
    return jax.random.fold_in(jax.random.split(key)[1], r)


def init_round_state(key: jax.Array, algorithm: SyncAlgorithm, problem: Problem, mixing, x0=None):
    """The network state ``simulate_rounds(key, ...)`` starts from.

    Args:
      key: the run's key; ``init`` gets an oracle keyed by ``init_key(key)``.
      algorithm, problem, mixing, x0: as for ``simulate_rounds``.

    Returns:
      The algorithm's network state, per-node leaves (n, ...).
    """
    xs0 = initial_points(x0, problem, mixing.num_nodes)
    first = mixing.at(0) if isinstance(mixing, TimeVaryingMixing) else mixing
    return algorithm.init(xs0, Oracle(problem, init_key(key)), first)


def _metrics(algorithm: SyncAlgorithm, problem: Problem, state) -> dict[str, jax.Array]:
    return network_metrics(problem, algorithm.params(state), state)


@functools.partial(jax.jit, static_argnames=("num_rounds", "num_records"))
def _simulate_rounds_compiled(
    key: jax.Array,
    algorithm: SyncAlgorithm,
    problem: Problem,
    mixing: Mixing | TimeVaryingMixing,
    *,
    num_rounds: int,
    num_records: int,
    x0=None,
    initial_state=None,
    start_round=0,
) -> Trace:
    """Runs ``num_rounds`` synchronous rounds of ``algorithm`` and records metrics.

    Compiled once per shape: new hyperparameter values, keys, initial points
    or mixing weights reuse the compiled run, and the whole function can be
    ``jax.vmap``-ed over any of them.

    Args:
      key: a JAX PRNG key (see ``init_key`` and ``round_key``).
      algorithm: a ``SyncAlgorithm`` (hyperparameters are array leaves).
      problem: a ``Problem`` with ``num_nodes == mixing.num_nodes``.
      mixing: the gossip matrix and its graph, or a ``TimeVaryingMixing``
        (round r uses ``mixing.at(r)``; only for algorithms with ``time_varying``).
      num_rounds: rounds to run (static), a positive multiple of num_records.
      num_records: records after the initial one (static); record r follows
        r * num_rounds / num_records rounds.
      x0: optional initial point, (dim,) for all nodes or (n, dim); zeros by default.
      initial_state: optional network state to start from instead of
        ``init_round_state(key, ...)`` (e.g. a previous trace's ``final_state``).
      start_round: index of the first round (an int, traced: new values reuse
        the compiled run). Round r uses ``round_key(key, r)`` and
        ``mixing.at(r)``, so that a run continued from round r0 with the state
        after r0 rounds equals the rounds r0, r0 + 1, ... of one long run.

    Returns:
      A ``Trace``: ``time`` is the number of rounds done since round 0 (float;
      record 0 is at ``start_round``),
      ``num_computations`` / ``num_communications`` sum the rounds' ``RoundCost``,
      ``bytes_sent`` = communications * message_floats(dim) * itemsize.
    """
    n, dim = mixing.num_nodes, problem.dim
    check_run_sizes("simulate_rounds", problem, n, "num_rounds", num_rounds, num_records)
    per_record = num_rounds // num_records
    dtype = problem.dtype
    varying = isinstance(mixing, TimeVaryingMixing)
    if varying and not algorithm.time_varying:
        raise ValueError(
            f"simulate_rounds: {type(algorithm).__name__} is not meant for time-varying "
            "networks (its time_varying is False); give it a fixed Mixing."
        )
    if initial_state is None:
        state = init_round_state(key, algorithm, problem, mixing, x0)
    else:
        state = initial_state
    start_round = jnp.asarray(start_round, jnp.int32)
    _, run_key = jax.random.split(key)  # split once, not in every round

    def one_round(carry, r):
        state, computations, communications = carry
        oracle = Oracle(problem, jax.random.fold_in(run_key, r))  # round_key(key, r)
        state, cost = algorithm.round(state, oracle, mixing.at(r) if varying else mixing)
        computations = computations + jnp.asarray(cost.computations, jnp.int32)
        communications = communications + jnp.asarray(cost.communications, jnp.int32)
        return (state, computations, communications), None

    def one_record(carry, record):
        state, diverged = carry
        zero = jnp.zeros((), jnp.int32)
        rounds = start_round + record * per_record + jnp.arange(per_record)
        (state, computations, communications), _ = jax.lax.scan(
            one_round, (state, zero, zero), rounds
        )
        metrics = _metrics(algorithm, problem, state)
        metrics["diverged"] = metrics["diverged"] | diverged
        metrics["time"] = (start_round + (record + 1) * per_record).astype(dtype)
        metrics["num_computations"] = computations
        metrics["num_communications"] = communications
        return (state, metrics["diverged"]), metrics

    initial = _metrics(algorithm, problem, state)
    (state, _), records = jax.lax.scan(
        one_record, (state, initial["diverged"]), jnp.arange(num_records)
    )

    bytes_per_message = algorithm.message_floats(dim) * dtype.itemsize
    return assemble_trace(initial, records, start_round.astype(dtype), bytes_per_message, state)


@functools.wraps(_simulate_rounds_compiled)
def simulate_rounds(key, algorithm: SyncAlgorithm, problem: Problem, mixing, *, x0=None, **kwargs):
    # Checked here, outside jit, where given values are still concrete.
    check_problem_setting(algorithm, problem, "simulate_rounds")
    check_start(x0, kwargs.get("start_round", 0), "simulate_rounds", "start_round")
    return _simulate_rounds_compiled(key, algorithm, problem, mixing, x0=x0, **kwargs)


simulate_rounds._cache_size = _simulate_rounds_compiled._cache_size  # compiled programs, for tests
