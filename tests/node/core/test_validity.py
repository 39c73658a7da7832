"""The one conversion between the contract's exclusive ``validUntil`` and the last valid day."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credledger.node.core.errors import InputError
from credledger.node.core.validity import (
    CHINA_TZ,
    exclusive_end,
    last_valid_day,
    last_valid_moment,
)
from credledger.node.licences.inputs import parse_time


def test_the_example_of_the_issue() -> None:
    end = int(dt.datetime(2032, 1, 1, tzinfo=CHINA_TZ).timestamp())
    assert parse_time("2031-12-31", "validUntil", end_of_day=True) == end
    assert exclusive_end(dt.date(2031, 12, 31)) == end
    assert last_valid_day(end) == "2031-12-31"
    assert last_valid_moment(end) == "2031-12-31T23:59:59+08:00"
    assert last_valid_day(0) is None and last_valid_moment(0) is None  # no end (长期)


@given(st.dates(min_value=dt.date(1971, 1, 1), max_value=dt.date(2999, 12, 31)))
def test_a_last_day_survives_the_round_trip(day: dt.date) -> None:
    assert last_valid_day(exclusive_end(day)) == day.isoformat()
    assert parse_time(day.isoformat(), "validUntil", end_of_day=True) == exclusive_end(day)


@given(st.integers(min_value=1, max_value=2**40 - 1))
def test_the_last_day_is_the_day_of_the_last_valid_second(end: int) -> None:
    try:
        last = dt.datetime.fromtimestamp(end - 1, CHINA_TZ)
    except (OverflowError, ValueError):  # past what a date can name (year 9999): no end
        assert last_valid_day(end) is None and last_valid_moment(end) is None
        return
    assert last_valid_day(end) == last.date().isoformat()
    assert (last_valid_moment(end) or "").startswith(last_valid_day(end) or "-")


def test_a_last_day_past_what_the_calendar_names_is_refused_as_input() -> None:
    with pytest.raises(InputError):
        parse_time("9999-12-31", "validUntil", end_of_day=True)
