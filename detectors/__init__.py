"""Detection methods, one module each, behind `detectors.base.Detector` (pure: no I/O)."""

from __future__ import annotations

from config.settings import Settings
from detectors.base import Detector, Finding

__all__ = ["Detector", "Finding", "default_detectors", "DETECTOR_CLASSES"]

DETECTOR_CLASSES: list[type[Detector]] = []


def default_detectors(settings: Settings | None = None) -> list[Detector]:
    """A fresh instance of every detector, in a fixed order (findings are fused in this order)."""
    return [cls() for cls in DETECTOR_CLASSES]
