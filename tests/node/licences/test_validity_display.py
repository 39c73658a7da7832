"""How validity and reasons are shown back: the last valid day as given, the exclusive end as
its own field, reason texts apart from their codes."""

from __future__ import annotations

import datetime as dt

from tests.node.licences.conftest import TOKENS, issue_body
from tests.node.licences.harness import Node

BEIJING = dt.timezone(dt.timedelta(hours=8))


def test_valid_until_is_shown_as_the_last_valid_day(node_a: Node) -> None:
    body = issue_body(validUntil="2031-12-31")
    issued = node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=body), 201)
    end = int(dt.datetime(2032, 1, 1, tzinfo=BEIJING).timestamp())
    assert (issued["validUntil"], issued["validUntilExclusive"]) == ("2031-12-31", end)
    shown = node_a.ok(node_a.get(f"/v1/licences/{issued['licenceId']}"))
    assert (shown["validUntil"], shown["validUntilExclusive"]) == ("2031-12-31", end)
    assert shown["validFrom"] == int(dt.datetime(2024, 1, 1, tzinfo=BEIJING).timestamp())


def test_an_end_in_unix_seconds_shows_the_day_of_its_last_second(node_a: Node) -> None:
    end = int(dt.datetime(2033, 3, 1, 0, 0, 1, tzinfo=BEIJING).timestamp())
    issued = node_a.ok(
        node_a.post("/v1/licences", TOKENS["market"], json=issue_body(validUntil=end)), 201
    )
    assert (issued["validUntil"], issued["validUntilExclusive"]) == ("2033-03-01", end)


def test_reason_texts_are_not_glued_to_their_code(node_a: Node) -> None:
    lid = node_a.ok(node_a.post("/v1/licences", TOKENS["market"], json=issue_body()), 201)[
        "licenceId"
    ]
    node_a.ok(
        node_a.post(f"/v1/licences/{lid}/suspend", TOKENS["enforcement"], json={"reasonCode": 1})
    )
    detail = node_a.ok(node_a.get(f"/v1/licences/{lid}"))
    reason = detail["statusReason"]
    assert reason["code"] == 1
    assert reason["text"] and not reason["text"].startswith("1") and " / " in reason["text"]
    suspended = next(h for h in detail["history"] if h["action"] == "SUSPENDED")
    assert suspended["reasonCode"] == 1 and suspended["reason"] == reason["text"]
