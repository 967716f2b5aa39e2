"""Decentralized algorithms, one per module, registered by name."""

from jaxgossip.algorithms.a2cid2 import A2CiD2
from jaxgossip.algorithms.ad_psgd import ADPSGD
from jaxgossip.algorithms.async_gossip_sgd import AsyncGossipSGD
from jaxgossip.algorithms.async_gradient_tracking import AsyncGradientTracking
from jaxgossip.algorithms.base import Algorithm, hyperparameter
from jaxgossip.algorithms.continuized_dual import ContinuizedDualGossip
from jaxgossip.algorithms.dadao import DADAO
from jaxgossip.algorithms.gossip import Gossip

REGISTRY = {
    "gossip": Gossip,
    "async_gossip_sgd": AsyncGossipSGD,
    "ad_psgd": ADPSGD,
    "async_gradient_tracking": AsyncGradientTracking,
    "a2cid2": A2CiD2,
    "continuized_dual": ContinuizedDualGossip,
    "dadao": DADAO,
}

__all__ = [
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
]
