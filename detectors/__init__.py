"""Detection methods, one module each, behind `detectors.base.Detector` (pure: no I/O).

`REGISTRY` lists every detector as ``"module:Class"``, in the order their findings are fused.
"""

from __future__ import annotations

from importlib import import_module

from config.settings import Settings
from detectors.base import Detector, Finding

__all__ = ["Detector", "Finding", "default_detectors", "detector_classes", "REGISTRY"]

REGISTRY: list[str] = [
    # one line per detector, "detectors.<module>:<Class>"
    "detectors.reviews:FakeReviews",
    "detectors.lockstep:Lockstep",
    "detectors.synchrony:BurstSynchrony",
    "detectors.cycles:CircularTrading",
    "detectors.records:ConjuredRecords",
    "detectors.brushing:Brushing",
    "detectors.anomaly:FeatureAnomaly",
    "detectors.identity:SockPuppets",
    "detectors.dense_block:DenseBlock",
    "detectors.edge_burst:EdgeBurst",
    "detectors.cohort:PuppetCohort",
]


def detector_classes() -> list[type[Detector]]:
    out = []
    for spec in REGISTRY:
        module, _, cls = spec.partition(":")
        out.append(getattr(import_module(module), cls))
    return out


def default_detectors(settings: Settings | None = None) -> list[Detector]:
    """A fresh instance of every registered detector, in registry order."""
    return [cls() for cls in detector_classes()]
