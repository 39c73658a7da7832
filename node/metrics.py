"""A small Prometheus registry (text exposition format 0.0.4) and JSON-lines structured logs.

One :class:`Metrics` per node runtime (``runtime.services["metrics"]``); components register
counters, gauges and histograms on it and ``GET /metrics`` renders it. No global state.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence

DEFAULT_BUCKETS = (0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120, 300)


class Counter:
    def __init__(self, name: str, help_: str) -> None:
        self.name, self.help = name, help_
        self._value = 0.0
        self._lock = threading.Lock()

    def inc(self, amount: float = 1.0) -> None:
        with self._lock:
            self._value += amount

    @property
    def value(self) -> float:
        return self._value

    def render(self) -> list[str]:
        return [
            f"# HELP {self.name} {self.help}",
            f"# TYPE {self.name} counter",
            f"{self.name} {_num(self._value)}",
        ]


class Gauge:
    """A value set directly, or read from a callback at scrape time."""

    def __init__(self, name: str, help_: str, fn: Callable[[], float] | None = None) -> None:
        self.name, self.help = name, help_
        self._value = 0.0
        self._fn = fn

    def set(self, value: float) -> None:
        self._value = value

    @property
    def value(self) -> float:
        if self._fn is not None:
            try:
                return float(self._fn())
            except Exception:
                return float("nan")
        return self._value

    def render(self) -> list[str]:
        return [
            f"# HELP {self.name} {self.help}",
            f"# TYPE {self.name} gauge",
            f"{self.name} {_num(self.value)}",
        ]


class Histogram:
    def __init__(self, name: str, help_: str, buckets: Sequence[float] = DEFAULT_BUCKETS) -> None:
        self.name, self.help = name, help_
        self.buckets = tuple(sorted(buckets))
        self._counts = [0] * len(self.buckets)
        self._sum = 0.0
        self._count = 0
        self._lock = threading.Lock()

    def observe(self, value: float, times: int = 1) -> None:
        with self._lock:
            for i, b in enumerate(self.buckets):
                if value <= b:
                    self._counts[i] += times
            self._sum += value * times
            self._count += times

    @property
    def count(self) -> int:
        return self._count

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        with self._lock:
            for b, c in zip(self.buckets, self._counts, strict=True):
                lines.append(f'{self.name}_bucket{{le="{_num(b)}"}} {c}')
            lines.append(f'{self.name}_bucket{{le="+Inf"}} {self._count}')
            lines.append(f"{self.name}_sum {_num(self._sum)}")
            lines.append(f"{self.name}_count {self._count}")
        return lines


def _num(v: float) -> str:
    if v != v:
        return "NaN"
    return str(int(v)) if float(v).is_integer() else repr(float(v))


Metric = Counter | Gauge | Histogram


class Metrics:
    """The registry of one node."""

    def __init__(self, prefix: str = "credledger_") -> None:
        self.prefix = prefix
        self._metrics: dict[str, Metric] = {}
        self._lock = threading.Lock()

    def _add(self, metric: Metric) -> Metric:
        with self._lock:
            existing = self._metrics.get(metric.name)
            if existing is not None:
                return existing
            self._metrics[metric.name] = metric
            return metric

    def counter(self, name: str, help_: str) -> Counter:
        m = self._add(Counter(self.prefix + name, help_))
        assert isinstance(m, Counter)
        return m

    def gauge(self, name: str, help_: str, fn: Callable[[], float] | None = None) -> Gauge:
        m = self._add(Gauge(self.prefix + name, help_, fn))
        assert isinstance(m, Gauge)
        return m

    def histogram(
        self, name: str, help_: str, buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> Histogram:
        m = self._add(Histogram(self.prefix + name, help_, buckets))
        assert isinstance(m, Histogram)
        return m

    def render(self) -> str:
        lines: list[str] = []
        for m in list(self._metrics.values()):
            lines.extend(m.render())
        return "\n".join(lines) + "\n"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    _STANDARD = frozenset(
        logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime"}
    )

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts": round(record.created, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in self._STANDARD and not key.startswith("_"):
                body[key] = value if isinstance(value, int | float | str | bool) else str(value)
        if record.exc_info:
            body["exc"] = self.formatException(record.exc_info)
        return json.dumps(body, ensure_ascii=False)


def configure_json_logs(level: str = "INFO") -> None:
    """Send the node's logs to stderr as JSON lines, unless logging is already configured."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
