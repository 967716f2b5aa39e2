"""One view of every registered method: its family and how its costs are counted.

``REGISTRY`` (event-driven) and ``SYNC_REGISTRY`` (round-based) map names to
classes for each engine; ``METHODS`` joins them, so front-ends (``compare``,
experiment files, the trade-off explorer) read one table.
"""

from __future__ import annotations

from typing import NamedTuple

from jaxgossip.algorithms.asynchronous.a2cid2 import A2CiD2
from jaxgossip.algorithms.asynchronous.ad_psgd import ADPSGD
from jaxgossip.algorithms.asynchronous.async_gossip_sgd import AsyncGossipSGD
from jaxgossip.algorithms.asynchronous.async_gradient_tracking import AsyncGradientTracking
from jaxgossip.algorithms.asynchronous.continuized_dual import ContinuizedDualGossip
from jaxgossip.algorithms.asynchronous.dadao import DADAO
from jaxgossip.algorithms.asynchronous.gossip import Gossip
from jaxgossip.algorithms.synchronous import SYNC_REGISTRY

REGISTRY = {
    "gossip": Gossip,
    "async_gossip_sgd": AsyncGossipSGD,
    "ad_psgd": ADPSGD,
    "async_gradient_tracking": AsyncGradientTracking,
    "a2cid2": A2CiD2,
    "continuized_dual": ContinuizedDualGossip,
    "dadao": DADAO,
}

FAMILIES = ("asynchronous", "synchronous", "centralized")

# How each group of methods counts computations and communications.
COUNTING = {
    "asynchronous": "1 computation per compute event, 1 communication per edge event",
    "decentralized rounds": "n computations per round and |E| communications per gossip "
    "step: one step per round (MSDA, OPAPC, ADOM+ multi-consensus: K steps per round)",
    "device sampling": "Push-Pull with device sampling: 1 computation per active node, 1 "
    "communication per one-way broadcast message (deg_i per active node i)",
    "centralized": "1 computation per component gradient, no communication",
    "all-reduce": "n computations and n communications per round (each worker sends its "
    "gradient and receives the average)",
}
CENTRALIZED = ("gradient_descent", "nesterov", "svrg", "katyusha")
ALL_REDUCE = ("all_reduce_sgd",)
DEVICE_SAMPLING = ("push_pull_device_sampling",)  # counted per active node and broadcast


class Method(NamedTuple):
    """A registered method."""

    name: str
    cls: type
    family: str  # one of FAMILIES; "asynchronous" runs on the event engine, the others on rounds
    counting: str  # a key of COUNTING

    @property
    def engine(self) -> str:
        """``"events"`` or ``"rounds"``: the engine that runs it."""
        return "events" if self.family == "asynchronous" else "rounds"


def _sync_method(name: str, cls: type) -> Method:
    if name in CENTRALIZED:
        return Method(name, cls, "centralized", "centralized")
    if name in ALL_REDUCE:
        return Method(name, cls, "synchronous", "all-reduce")
    counting = "device sampling" if name in DEVICE_SAMPLING else "decentralized rounds"
    return Method(name, cls, "synchronous", counting)


METHODS: dict[str, Method] = {
    **{name: Method(name, cls, "asynchronous", "asynchronous") for name, cls in REGISTRY.items()},
    **{name: _sync_method(name, cls) for name, cls in SYNC_REGISTRY.items()},
}


def methods(family: str | None = None) -> list[Method]:
    """The registered methods, all or those of one family, in registry order."""
    if family is not None and family not in FAMILIES:
        raise ValueError(f"methods: family must be one of {FAMILIES}; got {family!r}.")
    return [m for m in METHODS.values() if family is None or m.family == family]
