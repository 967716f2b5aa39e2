"""Decentralized algorithms, one per module, registered by name."""

from jaxgossip.algorithms.ad_psgd import ADPSGD
from jaxgossip.algorithms.async_gossip_sgd import AsyncGossipSGD
from jaxgossip.algorithms.async_gradient_tracking import AsyncGradientTracking
from jaxgossip.algorithms.base import Algorithm, hyperparameter
from jaxgossip.algorithms.gossip import Gossip

REGISTRY = {
    "gossip": Gossip,
    "async_gossip_sgd": AsyncGossipSGD,
    "ad_psgd": ADPSGD,
    "async_gradient_tracking": AsyncGradientTracking,
}

__all__ = [
    "ADPSGD",
    "REGISTRY",
    "Algorithm",
    "AsyncGossipSGD",
    "AsyncGradientTracking",
    "Gossip",
    "hyperparameter",
]
