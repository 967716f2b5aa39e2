"""Exact parallel execution of events that touch disjoint nodes ("waves").

Two events that name disjoint nodes commute: for an algorithm written on the
local view (its hooks read and write only the rows of the nodes an event names,
and an event's randomness is keyed by its global index), applying them together
gives exactly what applying them in time order gives. So a window of K
consecutive events is applied level by level:

1. each event's *level* is one more than the highest level among the earlier
   events of the window that share one of its nodes (0 if none). Each event's
   predecessor per endpoint comes from one stable sort of the 2K (node,
   position) pairs; the levels are then the fixed point of
   ``level = max(level[pred_i], level[pred_j]) + 1``, reached after D
   iterations for a window of depth D (never a per-event loop);
2. the window's events, ordered by (level, position), are cut into slabs of at
   most C slots that hold events of one level only; a slab gathers its events'
   rows, applies the hook to all slots with ``jax.vmap``, and scatters once.
   Slots past a slab's events are masked (their scatter is dropped).

Events of one level touch pairwise disjoint nodes, so a slab's scatter never
writes a row twice (a compute event writes its one row). On a large graph D
is small (about 2-3 at K = 1024 for n >= 16,384) and a slab does C events'
work in one step; on a small graph D approaches K / n and the slabs hold few
events each.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxgossip.network.clocks import COMPUTE


def _sorted_pairs(keys: jax.Array, modulus: int) -> tuple[jax.Array, jax.Array]:
    """Sorts packed keys ``major * modulus + minor`` (uint32) and unpacks them.

    XLA sorts plain values several times faster than it sorts (key, index) pairs
    (argsort), so the index travels packed in the key.
    """
    keys = jnp.sort(keys)
    return (keys // modulus).astype(jnp.int32), (keys % modulus).astype(jnp.int32)


def levels(i: jax.Array, j: jax.Array, num_nodes: int) -> tuple[jax.Array, jax.Array]:
    """(level (K,), depth ()) of a window's events, endpoints i, j (K,) int32 in [0, n).

    level[k] = 1 + max level of the earlier events sharing a node with event k
    (0 if none); depth = max level + 1.
    """
    size = i.shape[0]
    position = jnp.arange(size, dtype=jnp.int32)
    # A compute event (i, i) touches node i once: its second endpoint becomes a
    # node of its own (n + k) that no other event names.
    j = jnp.where(i == j, num_nodes + position, j)
    nodes = jnp.concatenate([i, j]).astype(jnp.uint32)
    owners = jnp.concatenate([position, position]).astype(jnp.uint32)
    node, owner = _sorted_pairs(nodes * size + owners, size)  # by node, then position
    same_node = jnp.concatenate([jnp.zeros((1,), bool), node[1:] == node[:-1]])
    previous = jnp.concatenate([jnp.full((1,), -1, jnp.int32), owner[:-1]])
    predecessor = jnp.where(same_node, previous, -1)  # last earlier event on that node
    endpoint = owner + size * (node != i[owner])  # where pair (node, owner) came from
    per_pair = jnp.zeros(2 * size, jnp.int32).at[endpoint].set(predecessor)
    pred_i, pred_j = per_pair[:size], per_pair[size:]

    def level_of(level, pred):
        return jnp.where(pred >= 0, level[jnp.maximum(pred, 0)], -1)

    def step(carry):
        level, _ = carry
        new = jnp.maximum(level_of(level, pred_i), level_of(level, pred_j)) + 1
        return new, jnp.any(new != level)

    level, _ = jax.lax.while_loop(lambda c: c[1], step, (jnp.zeros(size, jnp.int32), True))
    return level, jnp.max(level) + 1


def fits(num_nodes: int, window: int) -> bool:
    """Whether the packed sort keys of ``levels`` fit in uint32 for n nodes, window K."""
    return (num_nodes + window) * window < 2**32


def slabs(level: jax.Array, slab_size: int):
    """The window cut into slabs of one level, at most ``slab_size`` events each.

    Returns (order (K,), start (K,), count (K,), num_slabs ()): events sorted by
    (level, position); slab s covers ``order[start[s] : start[s] + count[s]]``
    (entries past ``num_slabs`` are unused; there are at most K slabs).
    """
    size = level.shape[0]
    position = jnp.arange(size, dtype=jnp.uint32)
    _, order = _sorted_pairs(level.astype(jnp.uint32) * size + position, size)
    per_level = jnp.zeros(size, jnp.int32).at[level].add(1)  # events per level
    slabs_per_level = (per_level + slab_size - 1) // slab_size
    first_slab = jnp.cumsum(slabs_per_level) - slabs_per_level  # of each level
    level_start = jnp.cumsum(per_level) - per_level  # first sorted position of each level
    slab = jnp.arange(size, dtype=jnp.int32)
    # The level of slab s: the last level whose first slab is <= s (empty levels
    # past the depth have no slabs and are never selected below num_slabs).
    slab_level = jnp.searchsorted(first_slab, slab, side="right").astype(jnp.int32) - 1
    slab_level = jnp.clip(slab_level, 0, size - 1)
    within = slab - first_slab[slab_level]
    start = level_start[slab_level] + within * slab_size
    count = jnp.clip(per_level[slab_level] - within * slab_size, 0, slab_size)
    return order, start, count, jnp.sum(slabs_per_level)


def apply_window(apply_slots, state, window, slab_size: int, num_nodes: int):
    """Applies a window of events level by level, ``slab_size`` slots per step.

    Args:
      apply_slots: ``(state, slot_events, mask) -> state`` applying events
        (arrays (C,)) that touch pairwise disjoint nodes, skipping masked slots.
      state: the network state.
      window: the window's events as a tuple of (K,) arrays (time, kind, i, j,
        edge, index), in time order.
      slab_size: C, slots per step (static).
      num_nodes: n (static).

    Returns:
      The state after the window, equal to applying its events in time order.
    """
    _, _, i, j, _, _ = window
    level, _ = levels(i, j, num_nodes)
    order, start, count, num_slabs = slabs(level, slab_size)
    padded = [jnp.concatenate([a[order], a[order][:1].repeat(slab_size)]) for a in window]

    def body(s, state):
        slot = jax.tree.map(lambda a: jax.lax.dynamic_slice_in_dim(a, start[s], slab_size), padded)
        mask = jnp.arange(slab_size) < count[s]
        return apply_slots(state, slot, mask)

    return jax.lax.fori_loop(0, num_slabs, body, state)


def make_apply_slots(apply_hook, num_nodes: int):
    """``apply_slots`` for ``apply_window`` from a per-event hook on gathered rows.

    ``apply_hook(node_i, node_j, event) -> (new_i, new_j)`` is the engine's
    local step for one event (its compute/communicate dispatch).
    """

    def apply_slots(state, slot, mask):
        _, kind, i, j, _, _ = slot
        node_i = jax.tree.map(lambda leaf: leaf[i], state)
        node_j = jax.tree.map(lambda leaf: leaf[j], state)
        new_i, new_j = jax.vmap(apply_hook)(node_i, node_j, slot)
        # Masked slots write out of bounds and are dropped; a compute event writes
        # row i only (its j is i, carrying the same value).
        targets = jnp.concatenate(
            [jnp.where(mask, i, num_nodes), jnp.where(mask & (kind != COMPUTE), j, num_nodes)]
        )

        def scatter(leaf, a, b):  # one scatter of the 2C rows (distinct nodes, or dropped)
            rows = jnp.concatenate([a, b]).astype(leaf.dtype)
            return leaf.at[targets].set(rows, mode="drop", unique_indices=False)

        return jax.tree.map(scatter, state, new_i, new_j)

    return apply_slots
