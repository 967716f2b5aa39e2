"""Decentralized algorithms, one per module, registered by name."""

from jaxgossip.algorithms.async_gossip_sgd import AsyncGossipSGD
from jaxgossip.algorithms.base import Algorithm, hyperparameter
from jaxgossip.algorithms.gossip import Gossip

REGISTRY = {
    "gossip": Gossip,
    "async_gossip_sgd": AsyncGossipSGD,
}

__all__ = ["REGISTRY", "Algorithm", "AsyncGossipSGD", "Gossip", "hyperparameter"]
