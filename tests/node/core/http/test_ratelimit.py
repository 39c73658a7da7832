"""node/core/http/ratelimit.py on the ``limits`` package: limits per key, the cost of a request,
Retry-After from the library's own admission rule, exact throttles of failed sign-ins, and idle
keys forgotten. The library's clock (``time.time`` in its memory storage) is a fake one here, so
every case is deterministic whatever the window alignment of the real clock."""

from __future__ import annotations

import limits.storage.memory
import pytest

from credledger.node.core.http import ratelimit
from credledger.node.core.http.ratelimit import RateLimitedError, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 3_600_000.0  # a multiple of every window below: a window starts now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(limits.storage.memory, "time", c)
    monkeypatch.setattr(ratelimit, "time", c)
    return c


def test_a_burst_passes_then_429_with_the_wait_the_library_will_keep(clock: Clock) -> None:
    rl = RateLimiter.per_minute(60, burst=2)  # 2 at once, 1 a second: 2 per 2 s
    rl.take("ip:a")
    rl.take("ip:a")
    with pytest.raises(RateLimitedError) as exc:
        rl.take("ip:a")
    assert exc.value.http_status == 429 and exc.value.code == "rate_limited"
    assert exc.value.retry_after == 2 and exc.value.headers == {"Retry-After": "2"}
    assert "too many requests from ip a" in str(exc.value)
    rl.take("ip:b")  # its own count
    assert rl.wait_time("ip:a") == pytest.approx(2.0, abs=0.01)
    clock.now += 1.99
    with pytest.raises(RateLimitedError):  # refused until the wait said
        rl.take("ip:a")
    clock.now += 0.51  # half a window later the previous window weighs 1.5: one more passes
    rl.take("ip:a")
    with pytest.raises(RateLimitedError) as exc:
        rl.take("ip:a")
    assert exc.value.retry_after == 1
    clock.now += rl.wait_time("ip:a") + 0.001  # just after what it said (the library agrees)
    rl.take("ip:a")
    clock.now += 100.0
    rl.take("ip:a", 2)  # back to the full burst, not beyond
    with pytest.raises(RateLimitedError):
        rl.take("ip:a")


def test_a_cost_counts_units_and_a_cost_over_the_burst_is_refused(clock: Clock) -> None:
    hashes = RateLimiter.per_second(36 / 3600, 10, what="hashes")  # 10 per 1000 s
    with pytest.raises(RateLimitedError, match=r"11 hashes at once .* split the request"):
        hashes.take("department:market", 11)
    hashes.take("department:market", 8)
    with pytest.raises(RateLimitedError) as exc:
        hashes.take("department:market", 8)
    # after the window rolls (1000 s) the 8 weigh less and less: 8 more fit once they weigh < 3
    assert exc.value.retry_after == 1000 + 625
    hashes.take("department:market", 2)  # what is left still passes


def test_several_limits_must_all_admit_and_a_refusal_spends_nothing(clock: Clock) -> None:
    rl = RateLimiter("5/10 seconds", "10/minute", what="failed sign-ins", exact=True)
    for _ in range(5):
        rl.take("ip:x")
    with pytest.raises(RateLimitedError) as exc:
        rl.take("ip:x")
    assert exc.value.retry_after == 10
    clock.now += 10.0
    for _ in range(5):
        rl.take("ip:x")
    with pytest.raises(RateLimitedError) as exc:  # now the minute is full
        rl.take("ip:x")
    assert exc.value.retry_after == 50
    rl.clear("ip:x")
    rl.take("ip:x")


def test_an_exact_throttle_refuses_the_next_try_across_a_window_edge(clock: Clock) -> None:
    """A sliding window counter may let a 6th pass when the 5 straddle its window edge; the
    moving window (``exact``) never does — what a throttle of failed sign-ins needs."""
    exact = RateLimiter("5/10 seconds", exact=True)
    approx = RateLimiter("5/10 seconds")
    clock.now += 9.9  # three just before a window edge, two just after
    for _ in range(3):
        exact.take("k")
        approx.take("k")
    clock.now += 0.2
    for _ in range(2):
        exact.take("k")
        approx.take("k")
    approx.take("k")  # 3 × 0.98 + 2 = 4.94: the counter admits a sixth
    with pytest.raises(RateLimitedError):
        exact.take("k")
    assert exact.wait_time("k") == pytest.approx(9.8, abs=0.01)  # when the first try leaves


def test_idle_keys_are_forgotten(clock: Clock) -> None:
    rl = RateLimiter.per_second(1.0, 1)
    for i in range(10):
        rl.take(f"ip:{i}")
    assert len(rl) == 10
    clock.now += 5.0  # two windows on, every counter has expired
    rl.take("ip:new")
    assert len(rl) == 1
    with pytest.raises(ValueError):
        RateLimiter.per_second(0, 1)
    with pytest.raises(ValueError):
        RateLimiter()
