"""Decentralized algorithms, one per module, registered by name.

Event-driven methods live in ``asynchronous/``, round-based ones in
``synchronous/``; ``registry.METHODS`` lists them all with family and counting.
"""

from jaxgossip.algorithms.asynchronous.a2cid2 import A2CiD2
from jaxgossip.algorithms.asynchronous.ad_psgd import ADPSGD
from jaxgossip.algorithms.asynchronous.async_gossip_sgd import AsyncGossipSGD
from jaxgossip.algorithms.asynchronous.async_gradient_tracking import AsyncGradientTracking
from jaxgossip.algorithms.asynchronous.continuized_dual import ContinuizedDualGossip
from jaxgossip.algorithms.asynchronous.dadao import DADAO
from jaxgossip.algorithms.asynchronous.gossip import Gossip
from jaxgossip.algorithms.base import (
    Algorithm,
    Oracle,
    RoundCost,
    SyncAlgorithm,
    hyperparameter,
    round_cost,
)
from jaxgossip.algorithms.local_optimizer import LocalOptimizer, OptimizerState, optimizer
from jaxgossip.algorithms.registry import COUNTING, FAMILIES, METHODS, REGISTRY, Method, methods

__all__ = [
    "COUNTING",
    "FAMILIES",
    "METHODS",
    "Method",
    "Oracle",
    "RoundCost",
    "SyncAlgorithm",
    "methods",
    "round_cost",
    "A2CiD2",
    "ADPSGD",
    "REGISTRY",
    "Algorithm",
    "AsyncGossipSGD",
    "AsyncGradientTracking",
    "ContinuizedDualGossip",
    "DADAO",
    "Gossip",
    "hyperparameter",
    "LocalOptimizer",
    "OptimizerState",
    "optimizer",
]
