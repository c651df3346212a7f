"""Feature stores: `MemoryStore` and `RedisStore` behind `FeatureStore`."""

from credence.store.base import DUPLICATE, NEW, REDELIVERED, FeatureStore, Outcome
from credence.store.memory import MemoryStore

__all__ = ["FeatureStore", "MemoryStore", "Outcome", "NEW", "REDELIVERED", "DUPLICATE"]
