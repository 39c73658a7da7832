"""No citizen ID reaches a log through a message or a traceback (issue 19 item 3): every record
of the process passes the scrubber the node and the wallet install with their error handlers."""

from __future__ import annotations

import io
import logging

from credledger.node.core.http.errors import install_log_scrubber
from credledger.node.core.identifiers import citizen_id_check_digit
from credledger.node.core.logs import JsonFormatter

BODY = "44030619931010" + "456"
CID = BODY + citizen_id_check_digit(BODY)


def _logged(formatter: logging.Formatter) -> str:
    install_log_scrubber()
    install_log_scrubber()  # once is enough; twice changes nothing
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    log = logging.getLogger("test.scrubber")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.error("lookup of %s failed", CID)
        log.warning("spaced: 440306 19931010 %s", CID[14:])
        try:
            empty: dict[str, int] = {}
            empty[f"key {CID}"]
        except KeyError:
            log.exception("unexpected error on GET /v1/things/{thing_id}")
        try:
            try:
                raise ValueError(CID)
            except ValueError as inner:
                raise RuntimeError("outer") from inner
        except RuntimeError:
            log.exception("chained")
        log.info("presentation verified")  # level below the logger's: never made
        log.error("an ordinary message 91310000MA1FL1234Q")
    finally:
        log.removeHandler(handler)
    return out.getvalue()


def test_messages_and_tracebacks_with_an_id_are_withheld() -> None:
    for formatter in (logging.Formatter("%(name)s %(message)s"), JsonFormatter()):
        text = _logged(formatter)
        assert CID not in text and CID[:17] not in text, text
        assert text.count("withheld") == 4, text
        assert "KeyError" in text and "RuntimeError" in text and "test_log_scrubber.py" in text
        assert "91310000MA1FL1234Q" in text  # a USCC is public and stays
