"""node/metrics.py (prometheus-client, one registry per node) and node/core/logs.py (JSON lines)."""

from __future__ import annotations

import io
import json
import logging
import math

from prometheus_client.parser import text_string_to_metric_families

from credledger.node.core.logs import JsonFormatter
from credledger.node.metrics import Metrics


def parse(m: Metrics) -> dict[str, float]:
    return {
        s.name + str(sorted(s.labels.items()) or ""): s.value
        for f in text_string_to_metric_families(m.render())
        for s in f.samples
    }


def test_each_node_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()
    a.counter("reorgs_total", "rollbacks").inc(2)
    b.counter("reorgs_total", "rollbacks")
    assert a.counter("reorgs_total", "rollbacks") is a.counter("reorgs_total", "again")
    assert parse(a)["credledger_reorgs_total"] == 2
    assert parse(b)["credledger_reorgs_total"] == 0


def test_gauges_histograms_and_a_failing_callback() -> None:
    m = Metrics()
    m.gauge("queue_depth", "waiting", lambda: 7)
    m.gauge("broken", "fails", lambda: 1 / 0)
    h = m.histogram("batch_size", "leaves", buckets=(1, 10))
    for v in (1, 5, 50):
        h.observe(v)
    samples = parse(m)
    assert samples["credledger_queue_depth"] == 7
    assert math.isnan(samples["credledger_broken"])
    assert samples["credledger_batch_size_bucket[('le', '1.0')]"] == 1
    assert samples["credledger_batch_size_bucket[('le', '10.0')]"] == 2
    assert samples["credledger_batch_size_bucket[('le', '+Inf')]"] == 3
    assert samples["credledger_batch_size_sum"] == 56


def test_log_lines_are_json_with_the_extra_fields() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("credledger.test.logs")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("issued %s", "licence", extra={"event": "licence_issued", "n": 3})
    finally:
        log.removeHandler(handler)
    line = json.loads(out.getvalue())
    assert line["msg"] == "issued licence" and line["level"] == "WARNING"
    assert line["logger"] == "credledger.test.logs"
    assert line["event"] == "licence_issued" and line["n"] == 3
    assert isinstance(line["ts"], float) and line["time"].endswith("Z")
