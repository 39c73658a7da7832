"""Request headers must be complete within ``api.header_timeout`` (10 s by default): a
connection whose headers arrive one byte a second is cut within the timeout + 2 s, and 200 of
them do not keep a normal request waiting (node/core/http/server.py, the node's `credledger up`
and the wallet's `credledger wallet serve`)."""

from __future__ import annotations

import threading
import time

import httpx

from tests.node.licences.harness import Node
from tests.support.slow_headers import trickle

TIMEOUT = 10.0  # api.header_timeout's default


def test_slow_headers_are_cut_and_do_not_block_others(counter_node: Node) -> None:
    cut: list[float] = []
    slow = threading.Thread(target=lambda: cut.extend(trickle(counter_node.port, 200, 30)))
    slow.start()
    try:
        time.sleep(1.5)  # all 200 open and trickling
        t0 = time.monotonic()
        r = httpx.get(f"{counter_node.url}/health", timeout=10)
        assert r.status_code == 200 and time.monotonic() - t0 < 2
    finally:
        slow.join()
    assert len(cut) == 200
    assert max(cut) <= TIMEOUT + 2, sorted(cut)[-5:]
    assert min(cut) >= TIMEOUT - 1, sorted(cut)[:5]  # not cut early either
    # a normal request still completes after them
    assert httpx.get(f"{counter_node.url}/health", timeout=10).status_code == 200
