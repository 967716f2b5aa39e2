"""The algorithm contract as a check anyone can run: ``check_algorithm``.

The project holds every registered method to one contract
(``tests/algorithms/test_contract.py``); ``check_algorithm`` runs the same
properties on an algorithm of your own, event-driven (an ``Algorithm``) or
round-based (a ``SyncAlgorithm``), and reports each one with the figure it
measured::

    report = jg.testing.check_algorithm(MyAlgorithm, preserves_mean=True)
    print(report)
    report.raise_if_failed()  # in a test: an AssertionError naming every failure

The properties, in the order they run (``PROPERTIES``):

- ``jit_vmap``: a batch of two hyperparameter values (every float leaf times
  1 and 1/2) and two keys runs in one ``jax.jit(jax.vmap(...))`` call with
  finite records and final state, nothing diverged and gradients computed.
  Figure: the number of non-finite values.
- ``recompile``: new hyperparameter values (every float leaf times 0.7) reuse
  that compiled call. Figure: the compilations they added (0 passes). A
  static float field fails it too, named: it is compiled in as a constant, a
  new value recompiles and ``jax.vmap`` cannot sweep it.
- ``stable_state``: the hooks (``on_compute``, ``on_communicate``, or
  ``round``) and a whole run return a state of the structure, shapes and
  dtypes of the initial one, and ``params`` has shape (dim,) per node (or
  (n, dim) for a round algorithm). Figure: the number of leaves that differ
  (shapes are traced, nothing is compiled).
- ``waves`` (event algorithms): the hooks are local. In float64, on the
  network (default a ring) and on a star of as many nodes, from random
  points, ``schedule="waves"`` (windows of 64 events in slabs of 4) gives the
  final state that ``"sequential"`` gives: bit for bit, or to 1e-13 relative
  when ``stores_time`` (vmapped exponentials may round differently). A hook
  that reads anything but its event's rows and the event breaks it. Figure:
  max |difference| relative to the state's scale.
- ``preserves_mean`` and ``invariant[<name>]`` (event algorithms, when
  declared): communications conserve the network mean of ``params``, and
  each given quantity of the network state. In float64, 1024 communications
  (compute rates set to 0) from random points. Figure: max |change| relative
  to the quantity's scale; it passes below 1000 eps of the dtype.
- ``converges``: in float64, from x0 = 1 on the problem (default: a
  quadratic of kappa 10 on 8 nodes, d = 3), f(x̄) - f* stays below the floor
  over the last 10% of the records: 1e-10 for an ``exact`` method, else a
  tenth of the initial suboptimality (it made progress); ``floor=`` gives
  the floor the method claims. Figure: the largest of those records.

What cannot be seen from outside is not checked: a constant closed over in a
hook's code (not a field of the algorithm) is invisible to ``recompile``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from jaxgossip.algorithms.base import Algorithm, Oracle, SyncAlgorithm
from jaxgossip.engine.events import BATCHED_SCHEDULE, init_state, simulate
from jaxgossip.engine.rounds import init_key, init_round_state, simulate_rounds
from jaxgossip.engine.time_varying import union_clocks
from jaxgossip.network.clocks import Clocks
from jaxgossip.network.graphs import ring, star
from jaxgossip.network.mixing import metropolis_mixing
from jaxgossip.problems.base import Problem
from jaxgossip.problems.quadratic import quadratic
from jaxgossip.study.table import format_table

PROPERTIES = (
    "jit_vmap",
    "recompile",
    "stable_state",
    "waves",
    "invariants",
    "converges",
)
EXACT_FLOOR = 1e-10  # f(x̄) - f* an exact method reaches in float64
INEXACT_REDUCTION = 0.1  # the default floor of other methods, times the initial suboptimality


@dataclasses.dataclass(frozen=True)
class Result:
    """One property's outcome.

    Attributes:
      name: the property (one of ``PROPERTIES``, or ``invariant[<name>]``).
      passed: whether it holds.
      figure: what was measured (a count, a relative difference, a suboptimality).
      message: what the figure is and, on failure, what is wrong.
    """

    name: str
    passed: bool
    figure: float
    message: str


@dataclasses.dataclass(frozen=True)
class Report:
    """The results of ``check_algorithm`` on one algorithm.

    Attributes:
      algorithm: the algorithm's class name.
      results: one ``Result`` per property checked, in the order they ran.
    """

    algorithm: str
    results: tuple[Result, ...]

    @property
    def passed(self) -> bool:
        """True when every property checked holds."""
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> tuple[Result, ...]:
        """The results that did not pass."""
        return tuple(r for r in self.results if not r.passed)

    def __getitem__(self, name: str) -> Result:
        """The result of the property ``name``; KeyError if it was not checked."""
        for result in self.results:
            if result.name == name:
                return result
        raise KeyError(f"{name!r} was not checked; checked: {[r.name for r in self.results]}.")

    def __str__(self) -> str:
        rows = [
            [r.name, "passed" if r.passed else "FAILED", r.message, f"{r.figure:.3g}"]
            for r in self.results
        ]
        table = format_table(["property", "result", "what was measured", "figure"], rows, left=3)
        verdict = "all passed" if self.passed else f"{len(self.failed)} failed"
        return f"check_algorithm({self.algorithm}): {verdict}\n{table}"

    def raise_if_failed(self) -> Report:
        """Returns the report when every property holds; else raises.

        Raises:
          AssertionError: listing every failed property with its figure and message.
        """
        if self.passed:
            return self
        lines = [f"  {r.name}: {r.figure:.3g}: {r.message}" for r in self.failed]
        raise AssertionError(
            f"{self.algorithm} fails {len(lines)} contract properties:\n" + "\n".join(lines)
        )


# Sizes of the checks: small, so that one check costs a few compilations.
VMAP_STEPS = {"events": 2000, "rounds": 40}  # events or rounds per run of the jit/vmap checks
WAVE_EVENTS, WAVE_WINDOW, WAVE_SLAB = 1024, 64, 4  # events of a float64 run, its K and C
BUDGET = {"events": 200 * WAVE_EVENTS, "rounds": 2000}  # of the convergence run


def check_algorithm(
    algorithm,
    *,
    problem: Problem | Callable[[], Problem] | None = None,
    network=None,
    key: jax.Array | None = None,
    properties: Collection[str] | None = None,
    preserves_mean: bool = False,
    invariants: Mapping[str, Callable[[Any], jax.Array]] | None = None,
    floor: float | None = None,
    budget: int | None = None,
) -> Report:
    """Runs the algorithm contract on ``algorithm`` and reports every property.

    Args:
      algorithm: an ``Algorithm`` or ``SyncAlgorithm`` subclass (configured by
        its ``from_theory``) or instance (used as given; its float leaves are
        cast to float64 for the float64 checks).
      problem: a convex ``Problem``, or a function of no argument returning
        one: it is called again inside the float64 checks, so that f* and x*
        are solved in float64 (a float32 instance limits ``converges`` to
        float32 precision). Default: ``quadratic(key(0), 8, 3, kappa=10)``.
      network: ``Clocks`` (event algorithms) or a ``Mixing`` (round
        algorithms) on ``problem.num_nodes`` nodes, or a function of no
        argument returning one. Default: a ring, compute rate 1 and edge rate
        5 (events) or Metropolis weights (rounds).
      key: the runs' key; default ``jax.random.key(0)``.
      properties: the properties to check (names of ``PROPERTIES``); default
        all that apply (``waves`` and ``invariants`` to event algorithms only).
      preserves_mean: declares that communications keep the network mean of
        ``params`` (pairwise averaging does); checked when True.
      invariants: quantities of the network state (leaves (n, ...)) that
        communications conserve, by name: ``{"sum of y": lambda s: s.y.sum(0)}``.
      floor: the f(x̄) - f* that ``converges`` requires (default: 1e-10 when
        ``exact``, else a tenth of the initial suboptimality).
      budget: events (or rounds) of the convergence run (default 204,800 / 2,000).

    Returns:
      A ``Report``: ``.passed``, a table as ``str``, ``.raise_if_failed()``.

    Raises:
      TypeError: ``algorithm`` is neither kind of algorithm.
      ValueError: an unknown property, or invariants declared for a round algorithm.
    """
    cls = algorithm if isinstance(algorithm, type) else type(algorithm)
    if issubclass(cls, Algorithm):
        engine = "events"
    elif issubclass(cls, SyncAlgorithm):
        engine = "rounds"
    else:
        raise TypeError(
            f"check_algorithm: give an Algorithm or SyncAlgorithm class or instance; got {cls}."
        )
    declared = [("preserves_mean", None)] if preserves_mean else []
    declared += [(f"invariant[{name}]", f) for name, f in (invariants or {}).items()]
    budget = BUDGET[engine] if budget is None else budget
    if engine == "rounds" and declared:
        raise ValueError(
            "check_algorithm: invariants are checked on communication events; a round "
            f"algorithm ({cls.__name__}) has none to run alone."
        )
    applicable = [p for p in PROPERTIES if engine == "events" or p not in ("waves", "invariants")]
    chosen = applicable if properties is None else list(properties)
    unknown = [p for p in chosen if p not in applicable]
    if unknown:
        raise ValueError(
            f"check_algorithm: unknown or inapplicable properties {unknown} for a {engine} "
            f"algorithm; choose among {applicable}."
        )
    check = _Check(algorithm, engine, problem, network, jax.random.key(0) if key is None else key)
    steps = [  # (property, the name of its result, the check)
        ("jit_vmap", "jit_vmap", check.jit_vmap),
        ("recompile", "recompile", check.recompile),
        ("stable_state", "stable_state", check.stable_state),
        ("waves", "waves", check.waves),
        *[("invariants", d[0], functools.partial(check.invariant, *d)) for d in declared],
        ("converges", "converges", functools.partial(check.converges, floor, budget)),
    ]
    results = [_guarded(label, step) for name, label, step in steps if name in chosen]
    return Report(cls.__name__, tuple(results))


def _guarded(name: str, step: Callable[[], Result]) -> Result:
    """``step()``, or a failed result naming the exception it raised (a hook that
    cannot be traced under jit or vmap fails its property rather than the report)."""
    try:
        return step()
    except Exception as error:  # whatever it is, the algorithm fails this property
        return Result(name, False, math.nan, f"raised {type(error).__name__}: {_first_line(error)}")


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else ""


def scale_leaves(algorithm, factor):
    """The algorithm with every floating-point array leaf multiplied by ``factor``
    (traceable: ``factor`` may be a batched value under ``jax.vmap``)."""
    return jax.tree.map(
        lambda leaf: (leaf * factor).astype(leaf.dtype) if eqx.is_inexact_array(leaf) else leaf,
        algorithm,
    )


def static_floats(algorithm) -> list[str]:
    """Names of the fields holding a float outside the pytree's leaves: static
    fields (compiled in as constants, a new value recompiles, vmap cannot sweep them)."""
    names = []
    for field in dataclasses.fields(algorithm):
        value = getattr(algorithm, field.name, None)
        if field.metadata.get("static", False) and _is_float(value):
            names.append(field.name)
    return names


def _is_float(value) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    return isinstance(value, (float, np.floating)) or (
        isinstance(value, (np.ndarray, jax.Array)) and jnp.issubdtype(value.dtype, jnp.floating)
    )


def _scale_everything(algorithm, factor: float):
    """``scale_leaves`` and every static float field times ``factor`` (concretely)."""
    scaled = scale_leaves(algorithm, factor)
    names = static_floats(algorithm)
    if not names:
        return scaled
    return dataclasses.replace(scaled, **{n: getattr(algorithm, n) * factor for n in names})


def _float64(tree):
    return jax.tree.map(
        lambda leaf: leaf.astype(jnp.float64) if eqx.is_inexact_array(leaf) else leaf, tree
    )


def _relative_difference(got, want) -> float:
    """max |got - want| over the floating-point leaves, relative to max |want|
    (inf when the structures or shapes differ, or a value is not finite)."""
    if jax.tree.structure(got) != jax.tree.structure(want):
        return math.inf
    worst, scale = 0.0, 0.0
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want)):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return math.inf
        if not np.issubdtype(b.dtype, np.floating):
            worst = max(worst, math.inf if np.any(a != b) else 0.0)
            continue
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            return math.inf
        worst = max(worst, float(np.max(np.abs(a - b), initial=0.0)))
        scale = max(scale, float(np.max(np.abs(b), initial=0.0)))
    return worst / scale if scale > 0 else worst


def _shape_mismatches(got, want, where: str) -> list[str]:
    """What differs between two trees of ShapeDtypeStructs (or arrays), by leaf path."""
    if jax.tree.structure(got) != jax.tree.structure(want):
        return [f"{where}: structure {jax.tree.structure(got)} != {jax.tree.structure(want)}"]
    found = []
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(got), jax.tree.leaves(want)):
        if a.shape != b.shape or a.dtype != b.dtype:
            name = jax.tree_util.keystr(path) or "state"
            found.append(f"{where} {name}: {a.dtype}{list(a.shape)} != {b.dtype}{list(b.shape)}")
    return found


class _Check:
    """The setting of one ``check_algorithm`` call, and one method per property.

    Compilations dominate a check (seconds each, against milliseconds of
    running), so the runs share them: the jit/vmap and recompile properties one
    batched program; the float64 properties two programs, the sequential and
    the waves schedule of 1024 events on the union graph of the network and a
    star (the invariants' run and the convergence run's chunks reuse the
    sequential one).
    """

    def __init__(self, algorithm, engine: str, problem, network, key):
        self.given, self.engine, self.key = algorithm, engine, key
        self.problem_spec, self.network_spec = problem, network
        self.algorithm, self.problem, self.network = self.setting()
        self.x0 = jnp.ones(self.problem.dim, self.problem.dtype)
        self.batched = None  # the jitted, vmapped run, once compiled

    def setting(self, float64: bool = False):
        """(algorithm, problem, network) built in the current precision."""
        problem = self.problem_spec
        if problem is None:
            problem = quadratic(jax.random.key(0), 8, 3, kappa=10.0)
        elif not isinstance(problem, Problem):
            problem = problem()
        network = self.network_spec
        if network is None:
            graph = ring(problem.num_nodes)
            events = self.engine == "events"
            network = Clocks(graph, 1.0, 5.0) if events else metropolis_mixing(graph)
        elif not isinstance(network, eqx.Module):
            network = network()
        return self.configure(problem, network, float64), problem, network

    def configure(self, problem, network, float64: bool):
        if isinstance(self.given, type):
            return self.given.from_theory(problem, network)
        return _float64(self.given) if float64 else self.given

    def run(self, key, algorithm, problem, network, steps, records, **kwargs):
        if self.engine == "events":
            kwargs.setdefault("schedule", BATCHED_SCHEDULE)
            return simulate(
                key, algorithm, problem, network, num_events=steps, num_records=records, **kwargs
            )
        return simulate_rounds(
            key, algorithm, problem, network, num_rounds=steps, num_records=records, **kwargs
        )

    def initial_state(self, algorithm, problem, network, x0=None):
        if self.engine == "events":
            return init_state(algorithm, problem, x0)
        return init_round_state(self.key, algorithm, problem, network, x0)

    def vmapped_runs(self, algorithm):
        """Two runs in one jitted call: hyperparameters x1 and x1/2, two keys."""
        if self.batched is None:
            steps = VMAP_STEPS[self.engine]

            def one(key, factor, algorithm):
                scaled = scale_leaves(algorithm, factor)
                return self.run(key, scaled, self.problem, self.network, steps, 4, x0=self.x0)

            self.batched = jax.jit(jax.vmap(one, in_axes=(0, 0, None)))
        keys = jnp.stack([self.key, jax.random.fold_in(self.key, 1)])
        return self.batched(keys, jnp.array([1.0, 0.5]), algorithm)

    def jit_vmap(self) -> Result:
        batch = self.vmapped_runs(self.algorithm)
        values = [*batch.records().values(), *jax.tree.leaves(batch.final_state)]
        bad = sum(int(np.sum(~np.isfinite(v))) for v in map(np.asarray, values) if _floating(v))
        computed = np.asarray(batch.num_computations)[:, -1]
        problems = [f"{bad} non-finite values"] if bad else []
        if np.any(np.asarray(batch.diverged)):
            problems.append("a run diverged")
        if not np.all(computed > 0):
            problems.append(f"computations counted {computed.tolist()}")
        if np.any(np.asarray(batch.num_communications) < 0):
            problems.append("negative communication counts")
        message = "; ".join(problems) or "non-finite values, 2 runs (hyperparameters x1, x1/2)"
        return Result("jit_vmap", not problems, bad, message)

    def recompile(self) -> Result:
        self.vmapped_runs(self.algorithm)
        before = self.batched._cache_size()
        self.vmapped_runs(_scale_everything(self.algorithm, 0.7))
        added = self.batched._cache_size() - before
        message = "compilations added by new hyperparameter values (x0.7)"
        statics = static_floats(self.algorithm)
        if statics:
            message += f"; static float fields (constants, not leaves): {', '.join(statics)}"
        return Result("recompile", added == 0 and not statics, added, message)

    def stable_state(self) -> Result:
        algorithm, problem, network = self.algorithm, self.problem, self.network
        state = self.initial_state(algorithm, problem, network, self.x0)
        want = jax.eval_shape(lambda: state)
        if self.engine == "events":
            node = jax.tree.map(lambda leaf: leaf[0], state)
            t, edge = jnp.zeros((), network.comm_rate.dtype), jnp.zeros((), jnp.int32)
            grad = lambda x: problem.local_grad(self.key, x, 0)
            node_shape = jax.eval_shape(lambda: node)
            computed = jax.eval_shape(lambda n: algorithm.on_compute(n, t, grad), node)
            pair = jax.eval_shape(algorithm.on_communicate, node, node, t, edge)
            found = _shape_mismatches(computed, node_shape, "on_compute")
            found += _shape_mismatches(pair[0], node_shape, "on_communicate (i)")
            found += _shape_mismatches(pair[1], node_shape, "on_communicate (j)")
            params, expected = jax.eval_shape(algorithm.params, node).shape, (problem.dim,)
        else:
            oracle = Oracle(problem, init_key(self.key))
            new, _ = jax.eval_shape(algorithm.round, state, oracle, network)
            found = _shape_mismatches(new, want, "round")
            params = jax.eval_shape(algorithm.params, state).shape
            expected = (problem.num_nodes, problem.dim)
        if params != expected:
            found.append(f"params: shape {params} != {expected}")
        steps = VMAP_STEPS[self.engine]
        run = lambda: self.run(self.key, algorithm, problem, network, steps, 4, x0=self.x0)
        try:  # after the hooks' own mismatches, which the engine may refuse to trace
            found += _shape_mismatches(jax.eval_shape(run).final_state, want, "after a run")
        except Exception as error:
            found.append(f"a run raised {type(error).__name__}: {_first_line(error)}")
        message = "; ".join(found[:4]) or "state leaves whose structure, shape or dtype change"
        return Result("stable_state", not found, len(found), message)

    def float64_setting(self):
        """(problem, {graph name: (algorithm, clocks)}) of the float64 checks, on the
        union graph of the network (default a ring) and a star; call under x64."""
        _, problem, network = self.setting(float64=True)
        star_clocks = Clocks(star(problem.num_nodes), network.compute_rate, 1.0)
        both = union_clocks([network, star_clocks])
        name = "ring" if self.network_spec is None else "network"
        pairs = {n: (self.configure(problem, c, True), c) for n, c in zip((name, "star"), both)}
        return problem, pairs

    def chunk(self, key, algorithm, problem, clocks, state, start_time=0.0, schedule="sequential"):
        """One run of WAVE_EVENTS events from ``state``: the program all float64 runs
        share (without the per-node suboptimality, which none of them reads)."""
        return self.run(
            key, algorithm, problem, clocks, WAVE_EVENTS, 4, initial_state=state,
            start_time=jnp.asarray(start_time, clocks.comm_rate.dtype), schedule=schedule,
            window=WAVE_WINDOW, slab_size=WAVE_SLAB, node_suboptimality=False,
        )  # fmt: skip

    def random_state(self, algorithm, problem, clocks):
        x0 = jax.random.normal(self.key, (problem.num_nodes, problem.dim), problem.dtype)
        return self.initial_state(algorithm, problem, clocks, x0)

    def waves(self) -> Result:
        with jax.enable_x64(True):
            problem, pairs = self.float64_setting()
            worst, lines = 0.0, []
            for name, (algorithm, clocks) in pairs.items():
                state = self.random_state(algorithm, problem, clocks)
                finals = [
                    self.chunk(self.key, algorithm, problem, clocks, state, schedule=s).final_state
                    for s in ("sequential", "waves")
                ]
                difference = _relative_difference(finals[1], finals[0])
                worst = max(worst, difference)
                lines.append(f"{name} {difference:.2g}")
        tolerance = 1e-13 if algorithm.stores_time else 0.0
        allowed = "1e-13 allowed: stores_time" if tolerance else "bit for bit"
        message = f"max |waves - sequential| / scale, float64 ({', '.join(lines)}; {allowed})"
        if worst > tolerance:
            message += "; a hook reads more than its event's rows and the event"
        return Result("waves", worst <= tolerance, worst, message)

    def invariant(self, label: str, quantity) -> Result:
        """``quantity`` (None: the network mean of params) before and after communications."""
        with jax.enable_x64(True):
            problem, pairs = self.float64_setting()
            algorithm, clocks = next(iter(pairs.values()))
            if quantity is None:
                quantity = lambda state: jnp.mean(jax.vmap(algorithm.params)(state), axis=0)
            silent = Clocks(clocks.graph, jnp.zeros_like(clocks.compute_rate), clocks.comm_rate)
            state = self.random_state(algorithm, problem, silent)
            trace = self.chunk(self.key, algorithm, problem, silent, state)
            change = _relative_difference(quantity(trace.final_state), quantity(state))
            tolerance = 1000 * float(jnp.finfo(problem.dtype).eps)
        what = "network mean of params" if label == "preserves_mean" else label[10:-1]
        message = f"max |change| / scale of the {what} over {WAVE_EVENTS} communications"
        return Result(label, change <= tolerance, change, message)

    def converges(self, floor, budget: int) -> Result:
        with jax.enable_x64(True):
            if self.engine == "events":
                problem, pairs = self.float64_setting()
                algorithm, clocks = next(iter(pairs.values()))
                x0 = jnp.ones(problem.dim, problem.dtype)
                state, time = self.initial_state(algorithm, problem, clocks, x0), 0.0
                budget = max(1, budget // WAVE_EVENTS) * WAVE_EVENTS
                records = [problem.suboptimality(jnp.mean(jax.vmap(algorithm.params)(state), 0))]
                for c in range(budget // WAVE_EVENTS):
                    key = jax.random.fold_in(self.key, c)
                    trace = self.chunk(key, algorithm, problem, clocks, state, time)
                    state, time = trace.final_state, trace.time[-1]
                    records.append(trace.suboptimality[1:])
                sub = np.concatenate([np.ravel(np.asarray(r, np.float64)) for r in records])
            else:
                algorithm, problem, network = self.setting(float64=True)
                budget -= budget % 100
                x0 = jnp.ones(problem.dim, problem.dtype)
                trace = self.run(self.key, algorithm, problem, network, budget, 100, x0=x0)
                sub = np.asarray(trace.suboptimality, np.float64)
        if floor is not None:
            claim = f"floor= {floor:.3g}"
        elif algorithm.exact:
            floor, claim = EXACT_FLOOR, f"exact: {EXACT_FLOOR:.0e}"
        else:
            floor = INEXACT_REDUCTION * float(sub[0])
            claim = f"inexact: {INEXACT_REDUCTION:g} x the initial {sub[0]:.3g}"
        tail = sub[-max(1, len(sub) // 10) :]
        figure = float(np.max(tail)) if np.all(np.isfinite(tail)) else math.inf
        steps = "events" if self.engine == "events" else "rounds"
        message = f"max f(x̄) - f* over the last 10% of {budget:,} {steps}, float64 ({claim})"
        return Result("converges", figure < floor, figure, message)


def _floating(value: np.ndarray) -> bool:
    return np.issubdtype(value.dtype, np.inexact)
