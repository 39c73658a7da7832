"""Every error answer is JSON ``{"error": code, "message": …}`` with a stable code.

:func:`install_error_handlers` registers, on a FastAPI app:

* :class:`~credledger.node.core.errors.CredledgerError` → its status and JSON
  (``Retry-After`` from a :class:`~credledger.node.core.http.ratelimit.RateLimitedError`);
* every such answer passes :func:`withhold_ids`: a message or detail holding a citizen ID number
  (an id echoed in a 404) is replaced by a generic one naming the code;
* request validation → ``422 invalid_input`` naming each field as the caller spelled it
  (``holderUscc``, not ``holder_uscc``), never echoing the value (it may be a citizen ID);
* Starlette/FastAPI ``HTTPException`` (404 of an unknown path, 405, multipart parser errors, body
  parser errors) → the same shape; a parser error caused by a ``CredledgerError`` answers as that;
* a number too long for Python's ``int`` (more than 4,300 digits, ``ValueError`` from ``int()``
  anywhere in a handler) → ``422 invalid_input`` (``number_too_long``), never a 500;
* every log record of the process passes a scrubber (:func:`install_log_scrubber`): a message or
  a traceback holding a citizen ID number is logged with that text withheld;
* anything else → ``500 internal_error`` with an ``errorId`` that is also in the log line
  (with the traceback), so an operator can find what a caller reports.

Usage: ``install_error_handlers(app, logging.getLogger("credledger.wallet"), "wallet")``.
"""

from __future__ import annotations

import json
import logging
import secrets
import traceback
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from credledger.node.core.errors import CredledgerError
from credledger.node.core.identifiers import contains_citizen_id

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}


def error_response(exc: CredledgerError) -> JSONResponse:
    headers = getattr(exc, "headers", None)
    return JSONResponse(
        status_code=exc.http_status, content=withhold_ids(exc.to_json()), headers=headers
    )


def withhold_ids(body: dict[str, Any]) -> dict[str, Any]:
    """The last guard of every error answer: a message or detail that names a value holding a
    citizen ID number (an id echoed in a 404, say) is replaced, never sent."""
    if not contains_citizen_id(json.dumps(body, ensure_ascii=False)):
        return body
    code = str(body.get("error", "error"))
    out: dict[str, Any] = {
        "error": code,
        "message": f"{code.replace('_', ' ')} (the message named a value that holds a citizen "
        "ID number; it is withheld)",
    }
    field = (body.get("details") or {}).get("field")
    if isinstance(field, str) and not contains_citizen_id(field):
        out["details"] = {"field": field}
    return out


def _field_name(loc: tuple[Any, ...], model_fields: dict[str, str]) -> str:
    """``("body", "holder_uscc")`` → ``holderUscc`` (the alias the caller sent). A part the
    caller chose (a metadata key) that is long or holds a citizen ID is written ``<key>``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "header", "path", "cookie") and len(parts) > 1:
        parts = parts[1:]
    parts = [safe_name(p) for p in parts]
    return ".".join(model_fields.get(p, p) for p in parts) or "body"


def safe_name(name: str, placeholder: str = "<key>") -> str:
    """A name the caller chose (a form field, a metadata key) as an error may show it: itself,
    or ``placeholder`` when it is long or holds a citizen ID (errors never echo personal data)."""
    return placeholder if len(name) > 64 or contains_citizen_id(name) else name


def is_int_size_error(exc: BaseException) -> bool:
    """Python's limit on ``int()`` of a long digit string (``sys.get_int_max_str_digits``)."""
    return type(exc) is ValueError and "integer string conversion" in str(exc)


def number_too_long() -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={
            "error": "invalid_input",
            "message": "a number in the request has too many digits",
            "details": {"problems": [{"where": "body", "problem": "number too long"}]},
        },
    )


def validation_problems(errors: list[Any]) -> list[dict[str, Any]]:
    problems = []
    for e in errors:
        loc = tuple(e.get("loc", ()))
        problems.append({"where": _field_name(loc, {}), "problem": str(e.get("msg", "invalid"))})
    return problems


def invalid_input(problems: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={
            "error": "invalid_input",
            "message": "; ".join(f"{p['where']}: {p['problem']}" for p in problems),
            "details": {"problems": problems},
        },
    )


WITHHELD = "(withheld: it held a citizen ID number)"


def _scrub(record: logging.LogRecord) -> logging.LogRecord:
    """A log record with any citizen ID in its message or its exception's text withheld (a
    traceback keeps its frames and the exception's type)."""
    try:
        text = record.getMessage()
    except Exception:  # a malformed record: the formatter will say so
        return record
    if contains_citizen_id(text):
        record.msg, record.args = f"{record.name}: a log message {WITHHELD}", ()
    exc = record.exc_info[1] if record.exc_info else None
    if exc is not None and contains_citizen_id("".join(traceback.format_exception(exc))):
        frames = "".join(traceback.format_tb(exc.__traceback__))
        record.exc_info = None
        record.exc_text = f"Traceback (most recent call last):\n{frames}{type(exc).__name__}: "
        record.exc_text += f"the message {WITHHELD}"
    return record


def install_log_scrubber() -> None:
    """Every log record of the process (uvicorn's "Exception in ASGI application" too) passes
    :func:`_scrub`: no citizen ID reaches a log file through a message or a traceback. Once."""
    old = logging.getLogRecordFactory()
    if getattr(old, "credledger_scrubs", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _scrub(old(*args, **kwargs))

    cast(Any, factory).credledger_scrubs = True
    logging.setLogRecordFactory(factory)


def install_error_handlers(app: FastAPI, log: logging.Logger, service: str = "node") -> None:
    install_log_scrubber()

    @app.exception_handler(CredledgerError)
    async def _credledger_error(_: Request, exc: CredledgerError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid_input(validation_problems(list(exc.errors())))

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        cause = exc.__cause__
        if isinstance(cause, CredledgerError):
            return error_response(cause)
        code = _HTTP_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        if cause is not None and exc.status_code == 400:
            # a multipart/body parser error: say what the parser said, not "error parsing"
            message = f"the request body could not be parsed: {cause}"
        return JSONResponse(
            status_code=exc.status_code,
            content=withhold_ids({"error": code, "message": message}),
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(ValueError)
    async def _value_error(_: Request, exc: ValueError) -> JSONResponse:
        if is_int_size_error(exc):
            return number_too_long()
        raise exc  # on to the 500 handler below

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        if is_int_size_error(exc):
            return number_too_long()
        error_id = secrets.token_hex(8)
        # the route's template, never the raw path: a path is caller input (it may hold an ID)
        route = getattr(request.scope.get("route"), "path", None) or "(no route)"
        log.error(
            "unexpected error %s on %s %s",
            error_id,
            request.method,
            route,
            exc_info=exc,
            extra={"event": "internal_error", "errorId": error_id},
        )
        return JSONResponse(
            status_code=500,
            content={
                "error": "internal_error",
                "message": f"the {service} failed unexpectedly; its operator can find error "
                f"{error_id} in the log",
                "errorId": error_id,
            },
        )
