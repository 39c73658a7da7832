"""The node's Prometheus metrics: one prometheus-client registry per node instance.

The runtime builds one :class:`Metrics`; components register counters, gauges and histograms on
it (by name, without the ``credledger_`` prefix) and ``GET /metrics`` renders it in the text
exposition format. Nothing is registered in prometheus-client's global registry, so two nodes in
one process (tests) keep separate figures.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

DEFAULT_BUCKETS = (0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120, 300)
CONTENT_TYPE = CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE", "DEFAULT_BUCKETS", "Counter", "Gauge", "Histogram", "Metrics"]


class Metrics:
    """The registry of one node; asking twice for the same name returns the same metric."""

    def __init__(self, prefix: str = "credledger_") -> None:
        self.prefix = prefix
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, Counter | Gauge | Histogram] = {}
        self._lock = threading.Lock()

    def counter(self, name: str, help_: str) -> Counter:
        with self._lock:
            m = self._metrics.get(name)
            if m is None:
                m = Counter(self.prefix + name, help_, registry=self.registry)
                self._metrics[name] = m
        assert isinstance(m, Counter)
        return m

    def gauge(self, name: str, help_: str, fn: Callable[[], float] | None = None) -> Gauge:
        """A gauge set directly, or read from ``fn`` at scrape time (NaN if ``fn`` fails)."""
        with self._lock:
            m = self._metrics.get(name)
            if m is None:
                m = Gauge(self.prefix + name, help_, registry=self.registry)
                self._metrics[name] = m
        assert isinstance(m, Gauge)
        if fn is not None:
            m.set_function(_safe(fn))
        return m

    def histogram(
        self, name: str, help_: str, buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> Histogram:
        with self._lock:
            m = self._metrics.get(name)
            if m is None:
                m = Histogram(self.prefix + name, help_, buckets=buckets, registry=self.registry)
                self._metrics[name] = m
        assert isinstance(m, Histogram)
        return m

    def render(self) -> str:
        """The text exposition of every metric of this node."""
        return generate_latest(self.registry).decode("utf-8")


def _safe(fn: Callable[[], float]) -> Callable[[], float]:
    def read() -> float:
        try:
            return float(fn())
        except Exception:
            return math.nan

    return read
