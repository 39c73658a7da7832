"""A licence's validity as people read it, from the value the contract keeps.

``LicenceRegistry`` stores ``validUntil`` as an **exclusive** end in unix seconds: the licence
is valid while ``block.timestamp < validUntil`` (0: no end, 长期). People, and every answer of
the node and the wallet, name the **last valid day** instead: a licence issued with
``validUntil=2031-12-31`` is valid through that Beijing day, its on-chain end is
2032-01-01 00:00 Beijing time. :func:`last_valid_day` is the one conversion; API answers,
``credledger licence show``, presentation verdicts, the clerk, enterprise and wallet pages all
show what it returns. :func:`exclusive_end` is its inverse (issuing and amending).
"""

from __future__ import annotations

import datetime as dt
import functools

# Dates without a time are Beijing dates: valid from 00:00 of the first day, until 24:00 of the
# last day ("有效期至 2030-12-31" includes that day).
CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")


@functools.lru_cache(maxsize=8192)  # pure; formatted for every licence in every answer
def last_valid_day(valid_until_exclusive: int | None) -> str | None:
    """The Beijing date (``YYYY-MM-DD``) of the last second before the contract's exclusive end;
    None for no end (0)."""
    moment = last_valid_moment(valid_until_exclusive)
    return moment[:10] if moment else None


@functools.lru_cache(maxsize=8192)
def last_valid_moment(valid_until_exclusive: int | None) -> str | None:
    """The last valid second as an ISO date-time in Beijing time
    (``2031-12-31T23:59:59+08:00``); None for no end (0, or an end past the year 9999, which
    ``datetime`` cannot name). Its date is :func:`last_valid_day`."""
    if not valid_until_exclusive:
        return None
    try:
        return dt.datetime.fromtimestamp(int(valid_until_exclusive) - 1, CHINA_TZ).isoformat()
    except (OverflowError, ValueError, OSError):  # past the year 9999 (a uint40 reaches 36812)
        return None  # shown as no end


def exclusive_end(last_day: dt.date) -> int:
    """The contract's exclusive end for a last valid day: 00:00 Beijing time of the next day."""
    start_of_next = dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(0), CHINA_TZ)
    return int(start_of_next.timestamp())
