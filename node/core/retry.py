"""The one retry/backoff policy of the node's background loops (indexer, anchoring pipeline).

After a failure wait ``first`` seconds, then twice as long each time, at most ``cap``; a success
resets it. The loops wait on their stop event, so a stop is never delayed by a backoff.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    first: float = 0.2
    factor: float = 2.0
    cap: float = 5.0
    current: float = 0.0

    def failed(self) -> float:
        """Record a failure; return how long to wait before the next attempt."""
        self.current = min(max(self.current * self.factor, self.first), self.cap)
        return self.current

    def succeeded(self) -> None:
        self.current = 0.0
