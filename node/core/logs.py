"""JSON-lines structured logs (python-json-logger), configured once by the runtime.

Each line is one JSON object: ``ts`` (unix seconds), ``time`` (UTC, ISO 8601), ``level``,
``logger``, ``msg`` and the ``extra`` fields a call passes (``event``, ``licence`` …).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _Base


class JsonFormatter(_Base):
    """python-json-logger's formatter with the node's field names."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger", "message": "msg"},
            json_ensure_ascii=False,
            json_default=str,
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["ts"] = round(record.created, 3)
        log_data["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        super().add_fields(log_data, record, message_dict)


def configure_json_logs(level: str = "INFO") -> None:
    """Send the node's logs to stderr as JSON lines, unless logging is already configured."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request at INFO (e.g. `up` asking its companions for their health)
    logging.getLogger("httpx").setLevel(logging.WARNING)
