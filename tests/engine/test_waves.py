"""Waves: events on disjoint nodes applied together give what time order gives (issue #11)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxgossip as jg
from jaxgossip.algorithms import REGISTRY
from jaxgossip.engine import waves
from jaxgossip.engine.events import choose_schedule
from jaxgossip.engine.time_varying import simulate_time_varying, union_clocks
from jaxgossip.network.clocks import sample_events
from tests import reference

# The registry's methods run here also where DADAO's chi1 chi2 <= 1/2 fails; this
# file checks the schedule, not the guarantee.
pytestmark = pytest.mark.filterwarnings("ignore::jaxgossip.algorithms.base.TheoryConditionWarning")


def _graphs(n=24):
    return {
        "ring": jg.graphs.ring(n),
        "star": jg.graphs.star(n),
        "random_geometric": jg.graphs.random_geometric(jax.random.key(3), n, 0.4),
        "complete": jg.graphs.complete(n),
    }


def _levels_by_loop(i, j):
    """The definition, one event at a time."""
    last = {}
    level = []
    for a, b in zip(i.tolist(), j.tolist()):
        nodes = {a, b}
        k = 1 + max((last[v] for v in nodes if v in last), default=-1)
        level.append(k)
        for v in nodes:
            last[v] = k
    return np.array(level)


@pytest.mark.parametrize("graph", ["ring", "star", "random_geometric", "complete"])
def test_levels_equal_the_definition(graph, key):
    clocks = jg.Clocks(_graphs()[graph], 1.0, 0.7)
    events = sample_events(key, clocks, 512)
    level, depth = jax.jit(waves.levels, static_argnums=2)(events.i, events.j, 24)
    expected = _levels_by_loop(np.asarray(events.i), np.asarray(events.j))
    np.testing.assert_array_equal(np.asarray(level), expected)
    assert int(depth) == expected.max() + 1


@pytest.mark.parametrize("slab_size", [1, 3, 8, 512])
def test_slabs_hold_one_level_each_and_cover_the_window_once(key, slab_size):
    clocks = jg.Clocks(_graphs()["random_geometric"], 1.0, 0.7)
    events = sample_events(key, clocks, 512)
    level, _ = waves.levels(events.i, events.j, 24)
    order, start, count, num_slabs = jax.jit(waves.slabs, static_argnums=1)(level, slab_size)
    order, start, count, level = map(np.asarray, (order, start, count, level))
    covered = np.concatenate([order[s : s + c] for s, c in zip(start[:num_slabs], count)])
    np.testing.assert_array_equal(np.sort(covered), np.arange(512))  # each event once
    np.testing.assert_array_equal(covered, order)  # slabs in (level, position) order
    i, j = np.asarray(events.i), np.asarray(events.j)
    for s, c in zip(start[:num_slabs], count[:num_slabs]):
        slab = order[s : s + c]
        assert 1 <= c <= slab_size and len(set(level[slab])) == 1
        nodes = np.concatenate([i[slab], j[slab][i[slab] != j[slab]]])
        assert len(set(nodes.tolist())) == len(nodes)  # pairwise disjoint nodes


def _final(trace, algorithm):
    return np.asarray(jax.vmap(algorithm.params)(trace.final_state))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_method_gives_the_same_run_in_waves_and_in_time_order(x64, key, name):
    """On a ring, a star, a random geometric and a complete graph (each as rates
    on their union graph, so that one compilation per schedule serves all four),
    float64, windows of 64 events in slabs of 4: the final states agree bit for
    bit for the methods whose hooks are plain arithmetic, and to 1e-13 relative
    for the ODE methods (``stores_time``), whose vmapped exponentials XLA may
    vectorize differently."""
    graphs = _graphs()
    problem = reference.small_problem("quadratic", jax.random.key(1), 24, 3)
    all_clocks = union_clocks([jg.Clocks(g, 1.0, 0.8) for g in graphs.values()])
    for graph, clocks in zip(graphs, all_clocks):
        algorithm = REGISTRY[name].from_theory(problem, clocks)
        runs = {
            schedule: jg.simulate(
                key,
                algorithm,
                problem,
                clocks,
                num_events=1024,
                num_records=4,
                schedule=schedule,
                window=64,
                slab_size=4,
            )
            for schedule in ("sequential", "waves")
        }
        sequential, parallel = (_final(runs[s], algorithm) for s in ("sequential", "waves"))
        scale = np.max(np.abs(sequential))
        assert np.max(np.abs(parallel - sequential)) <= 1e-13 * scale, graph
        if not algorithm.stores_time:
            np.testing.assert_array_equal(parallel, sequential, err_msg=graph)
        np.testing.assert_array_equal(runs["waves"].time, runs["sequential"].time)
        np.testing.assert_array_equal(
            runs["waves"].num_communications, runs["sequential"].num_communications
        )


def test_replayed_traces_and_time_varying_phases_run_in_waves(x64, key):
    graph = _graphs()["random_geometric"]
    problem = reference.small_problem("logistic", jax.random.key(1), graph.num_nodes, 3)
    clocks = jg.Clocks(graph, 1.0, 1.3)
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.05)
    events = sample_events(key, clocks, 960)
    runs = [
        jg.simulate(
            key,
            algorithm,
            problem,
            clocks,
            num_events=960,
            num_records=3,
            events=events,
            schedule=s,
            window=40,
            slab_size=5,
        )
        for s in ("sequential", "waves")
    ]
    np.testing.assert_array_equal(_final(runs[1], algorithm), _final(runs[0], algorithm))
    phases = [jg.Clocks(graph, 1.0, rate) for rate in (0.5, 2.0)]
    tv = [
        simulate_time_varying(
            key,
            algorithm,
            problem,
            phases,
            events_per_phase=512,
            records_per_phase=2,
            num_phases=2,
            schedule=s,
            window=64,
            slab_size=8,
        )
        for s in ("sequential", "waves")
    ]
    np.testing.assert_array_equal(_final(tv[1], algorithm), _final(tv[0], algorithm))


def test_vmapped_waves_equal_single_runs(x64, key):
    graph = _graphs()["ring"]
    problem = reference.small_problem("quadratic", jax.random.key(1), graph.num_nodes, 3)
    clocks = jg.Clocks(graph, 1.0, 1.0)
    steps = jnp.array([0.01, 0.05, 0.1])

    def run(step, k):
        algorithm = jg.algorithms.AsyncGossipSGD(step_size=step)
        trace = jg.simulate(
            k,
            algorithm,
            problem,
            clocks,
            num_events=512,
            num_records=2,
            schedule="waves",
            window=64,
            slab_size=4,
        )
        return trace.final_state

    keys = jax.random.split(key, 3)
    batched = jax.vmap(run)(steps, keys)
    for b in range(3):
        np.testing.assert_array_equal(batched[b], run(steps[b], keys[b]))


def test_auto_keeps_time_order_under_a_vmap_around_simulate(monkeypatch):
    import jaxgossip.engine.events as events_module

    class WouldRunWaves(Exception):
        pass

    chosen = []
    compiled = events_module._simulate_compiled

    def spy(*args, **kwargs):  # records the schedule; runs only time order (cheap)
        chosen.append(kwargs.get("schedule", "auto"))
        if chosen[-1] != "sequential":
            raise WouldRunWaves
        return compiled(*args, **kwargs)

    monkeypatch.setattr(events_module, "_simulate_compiled", spy)
    n = 128  # waves for a single run: auto picks them from 64 nodes
    problem = jg.problems.quadratic(jax.random.key(0), n, 4)
    clocks = jg.Clocks(jg.graphs.ring(n), compute_rate=1.0, comm_rate=1.0)
    algorithm = jg.algorithms.AsyncGossipSGD(step_size=0.1)
    keys = jax.random.split(jax.random.key(1), 3)

    def run(key, schedule="auto", algorithm=algorithm):
        trace = jg.simulate(
            key, algorithm, problem, clocks, num_events=256, num_records=2, schedule=schedule
        )
        return trace.final_state

    with pytest.raises(WouldRunWaves):
        run(keys[0])  # a single run: auto is left to choose_schedule
    batch = jax.jit(jax.vmap(run))(keys)
    steps = jnp.array([0.1, 0.2])  # batched hyperparameters only: the key is shared
    jax.vmap(lambda step: run(keys[0], algorithm=jg.algorithms.AsyncGossipSGD(step_size=step)))(
        steps
    )
    with pytest.raises(WouldRunWaves):
        jax.vmap(lambda key: run(key, "waves"))(keys)  # an explicit choice is kept
    one = run(keys[0], "sequential")
    assert chosen == ["auto", "sequential", "sequential", "waves", "sequential"]
    np.testing.assert_allclose(batch[0], one, rtol=1e-6, atol=1e-6)


def test_schedule_choice_and_its_errors():
    assert choose_schedule("auto", 16, 1000, None, None)[0] == "sequential"
    schedule, window, slab = choose_schedule("auto", 4096, 10_000, None, None)
    assert schedule == "waves" and 10_000 % window == 0 and window <= 1024 and slab <= window
    assert choose_schedule("waves", 64, 1000, 300, 7) == ("waves", 250, 7)
    with pytest.raises(ValueError, match="schedule must be one of"):
        choose_schedule("parallel", 64, 1000, None, None)
    with pytest.raises(ValueError, match="window must be"):
        choose_schedule("waves", 64, 1000, 0, None)
    with pytest.raises(ValueError, match="slab_size must be"):
        choose_schedule("waves", 64, 1000, None, 0)
    with pytest.raises(ValueError, match="too large"):
        choose_schedule("waves", 2**23, 2**12, 2**12, None)
