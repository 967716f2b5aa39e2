"""Synchronous (round-based) algorithms, one per module, registered by name.

Each class is a ``jaxgossip.algorithms.base.SyncAlgorithm`` run by
``jaxgossip.engine.rounds.simulate_rounds``: decentralized methods (D-SGD,
EXTRA, DIGing, Push-Pull, Push-Pull with device sampling, MSDA, OPAPC,
ADOM+), all-reduce SGD (data-parallel training) and centralized references
(gradient descent, Nesterov, SVRG, Katyusha).
"""

from jaxgossip.algorithms.synchronous.adom_plus import ADOMPlus, ADOMPlusMultiConsensus
from jaxgossip.algorithms.synchronous.all_reduce_sgd import AllReduceSGD
from jaxgossip.algorithms.synchronous.diging import DIGing
from jaxgossip.algorithms.synchronous.dsgd import DSGD
from jaxgossip.algorithms.synchronous.extra import EXTRA
from jaxgossip.algorithms.synchronous.gradient_descent import GradientDescent
from jaxgossip.algorithms.synchronous.katyusha import Katyusha
from jaxgossip.algorithms.synchronous.msda import MSDA
from jaxgossip.algorithms.synchronous.nesterov import Nesterov
from jaxgossip.algorithms.synchronous.opapc import OPAPC
from jaxgossip.algorithms.synchronous.push_pull import PushPull
from jaxgossip.algorithms.synchronous.push_pull_device_sampling import PushPullDeviceSampling
from jaxgossip.algorithms.synchronous.svrg import SVRG

SYNC_REGISTRY = {
    "dsgd": DSGD,
    "extra": EXTRA,
    "diging": DIGing,
    "push_pull": PushPull,
    "push_pull_device_sampling": PushPullDeviceSampling,
    "msda": MSDA,
    "opapc": OPAPC,
    "adom_plus": ADOMPlus,
    "adom_plus_multi": ADOMPlusMultiConsensus,
    "gradient_descent": GradientDescent,
    "all_reduce_sgd": AllReduceSGD,
    "nesterov": Nesterov,
    "svrg": SVRG,
    "katyusha": Katyusha,
}

__all__ = [
    "ADOMPlus",
    "ADOMPlusMultiConsensus",
    "AllReduceSGD",
    "DIGing",
    "DSGD",
    "EXTRA",
    "GradientDescent",
    "Katyusha",
    "MSDA",
    "Nesterov",
    "OPAPC",
    "PushPull",
    "PushPullDeviceSampling",
    "SVRG",
    "SYNC_REGISTRY",
]
