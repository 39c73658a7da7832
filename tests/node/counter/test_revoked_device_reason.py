"""Issue 19 item 8: a device grant revoked a moment ago answers AGENT_NOT_AUTHORISED (the node
waits briefly for its index to reach the chain head on that refusal), never NOT_HOLDER."""

from __future__ import annotations

import pytest

from credledger.node.core import presentation as pr
from tests.node.counter.conftest import Parties, lid

pytestmark = [pytest.mark.chain]


def test_a_just_revoked_device_grant_is_agent_not_authorised(parties: Parties) -> None:
    for _ in range(3):
        a = lid(parties.issue())
        device = pr.DeviceKeySigner.generate()
        parties.grant(a, device.address)
        assert parties.verify(parties.token([a], signer=device).encode())["verdict"] == "VALID"
        parties.revoke(a, device.address)  # no wait for the index: verify at once
        got = parties.verify(parties.token([a], signer=device).encode())
        assert got["assets"][0]["verdict"] == "AGENT_NOT_AUTHORISED", got
        assert "revoked" in got["assets"][0]["reasons"][0]["message"]
    # a presenter that never had a grant is still NOT_HOLDER
    a = lid(parties.issue())
    stranger = pr.DeviceKeySigner.generate()
    got = parties.verify(parties.token([a], signer=stranger).encode())
    assert got["assets"][0]["verdict"] == "NOT_HOLDER", got
