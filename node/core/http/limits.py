"""Bounded request parsing, in one place for the node and the wallet.

Three pieces, each usable on its own:

* :class:`BodyLimitMiddleware` — a pure ASGI middleware. ``Content-Length`` is checked before a
  byte is read; the body bytes are counted as they stream in, and the request is answered
  ``413 {"error": "payload_too_large", …}`` as soon as the limit is crossed (the rest of the body
  is never read, memory stays flat). A body that stalls (no chunk for ``body_timeout`` seconds) or
  drags on past ``body_deadline`` seconds is answered ``408`` (slowloris-style senders).
  Multipart requests (uploads) and everything else (JSON) have separate limits.
* :func:`loads_json` — ``json.loads`` with the size and the nesting depth checked over the raw
  bytes *before* parsing, so a body of 100,000 ``[`` never reaches the recursive decoder.
  :class:`BoundedJsonRoute` makes FastAPI's own body parsing use it (``APIRouter(route_class=…)``).
* :class:`BoundedStaticFiles` — StaticFiles that answers 404 for any path the file system cannot
  take (too long, NUL), never a 500.
* :func:`restore_recursion_limit` — importing ``py_ecc`` (via web3) raises the interpreter's
  recursion limit to 100,000, past what the C stack holds; this puts it back.

Usage (node/app.py does exactly this)::

    from credledger.node.core.http.limits import BodyLimitMiddleware, BoundedJsonRoute, loads_json

    app.add_middleware(BodyLimitMiddleware, max_json_bytes=2 << 20, max_upload_bytes=64 << 20)
    router = APIRouter(route_class=BoundedJsonRoute)
    data = loads_json(raw_bytes)              # InputError (422) / PayloadTooLargeError (413)
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
import sys
import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from credledger.node.core.errors import CredledgerError, InputError, PayloadTooLargeError

MAX_JSON_DEPTH = 32
MAX_JSON_BYTES = 2 * 1024 * 1024
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
DEFAULT_RECURSION_LIMIT = 1000


class JsonTooDeepError(InputError):
    """A JSON body nests deeper than the limit (refused before parsing)."""

    code = "json_too_deep"


class RequestTimeoutError(CredledgerError):
    """The request body arrived too slowly."""

    code = "request_timeout"
    http_status = 408


# --- JSON ---------------------------------------------------------------------------------------

_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_ONE_KIND = bytes.maketrans(b"{}", b"[]")


def _brackets(raw: bytes) -> bytes:
    """The brackets of ``raw`` outside strings, all as ``[``/``]`` (the kind does not matter for
    depth); escaped backslashes and quotes are dropped first, then strings cut out."""
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    return _STRING.sub(b"", text).translate(_ONE_KIND, _NOT_BRACKETS)


def json_too_deep(raw: bytes, max_depth: int) -> bool:
    """Whether ``raw`` nests ``[``/``{`` deeper than ``max_depth`` (brackets in strings ignored).

    C-speed passes over the brackets, each removing the innermost pairs (``bytes.replace`` does
    not re-match the pairs it creates, so one pass is one level); ``max_depth`` passes that do not
    empty them mean deeper, or unbalanced — json.loads would recurse before it failed, so that is
    refused too. Exact for valid JSON; for invalid JSON it never misses the part before the first
    syntax error, which is all ``json.loads`` would ever recurse into.
    """
    brackets = _brackets(raw)
    if brackets.count(b"[") <= max_depth:
        return False
    too_deep = b"[" * (max_depth + 1)
    for _ in range(max_depth):
        if too_deep in brackets:
            return True
        brackets = brackets.replace(b"[]", b"")
        if not brackets:
            return False
    return True


def loads_json(
    raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH, max_bytes: int | None = MAX_JSON_BYTES
) -> Any:
    """Parse JSON with its size and nesting depth bounded (checked before parsing)."""
    data = raw.encode("utf-8") if isinstance(raw, str) else raw
    if max_bytes is not None and len(data) > max_bytes:
        raise PayloadTooLargeError(
            f"the JSON body has {len(data)} bytes; at most {max_bytes}", limit=max_bytes
        )
    if json_too_deep(data, max_depth):
        raise JsonTooDeepError(
            f"the JSON nests deeper than {max_depth} levels (or its brackets do not balance)",
            field="body",
        )
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"the body is not valid JSON: {exc}", field="body") from None


class _BoundedJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = loads_json(await self.body(), max_bytes=None)
        return self._json


class BoundedJsonRoute(APIRoute):
    """An APIRoute whose JSON bodies are parsed by :func:`loads_json` (depth-checked).

    FastAPI wraps any error of the body parser in ``HTTPException(400)``; the app's handler for
    it (``node.api.errors``) answers with the :class:`CredledgerError` found as its cause.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            return await handler(_BoundedJsonRequest(request.scope, request.receive))

        return bounded


def settle_heap() -> None:
    """Move what is alive once the app has started (modules, web3's ABIs, pydantic's schemas, the
    read model as loaded) out of the cyclic collector's reach, so that a full collection under
    load scans only what requests allocate. Without it, a node under load paused ~90 ms for a
    full collection every second or so: that was its p99. Both apps' lifespans call it."""
    gc.collect()
    gc.freeze()


def restore_recursion_limit(limit: int = DEFAULT_RECURSION_LIMIT) -> None:
    """Undo ``py_ecc``'s ``sys.setrecursionlimit(100000)`` (deep recursion must fail, not crash)."""
    if sys.getrecursionlimit() > limit:
        sys.setrecursionlimit(limit)


# --- streaming body limit -----------------------------------------------------------------------


def _error_body(exc: CredledgerError) -> bytes:
    return json.dumps(exc.to_json(), ensure_ascii=False).encode("utf-8")


class BodyLimitMiddleware:
    """Refuse request bodies over the limit while they stream (pure ASGI, no buffering).

    ``max_upload_bytes`` applies to ``multipart/form-data`` bodies, ``max_json_bytes`` to every
    other body. ``body_timeout``: longest wait for the next chunk; ``body_deadline``: longest
    time for the whole body. Once refused, the app's own later answer is dropped and it reads an
    ``http.disconnect``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_json_bytes: int = MAX_JSON_BYTES,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        body_timeout: float = 15.0,
        body_deadline: float = 120.0,
    ) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.max_upload_bytes = max_upload_bytes
        self.body_timeout = body_timeout
        self.body_deadline = body_deadline

    def limit_for(self, scope: Scope) -> int:
        for name, value in scope.get("headers", ()):
            if name == b"content-type" and value.lower().startswith(b"multipart/"):
                return self.max_upload_bytes
        return self.max_json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        length = next((v for k, v in scope.get("headers", ()) if k == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > limit:
            await _answer(send, PayloadTooLargeError(_too_large(int(length), limit), limit=limit))
            return

        state = {"received": 0, "refused": False, "started": False, "done": False}
        start = time.monotonic()

        async def refuse(exc: CredledgerError) -> Message:
            state["refused"] = True
            if not state["started"]:
                state["started"] = True
                await _answer(send, exc)
            return {"type": "http.disconnect"}

        async def limited_receive() -> Message:
            if state["refused"]:
                return {"type": "http.disconnect"}
            if state["done"]:
                return await receive()  # the body is complete: waiting for a disconnect is fine
            remaining = self.body_deadline - (time.monotonic() - start)
            try:
                message = await asyncio.wait_for(
                    receive(), timeout=max(0.0, min(self.body_timeout, remaining))
                )
            except TimeoutError:
                return await refuse(
                    RequestTimeoutError("the request body arrived too slowly; send it at once")
                )
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    return await refuse(
                        PayloadTooLargeError(
                            _too_large(state["received"], limit, partial=True), limit=limit
                        )
                    )
                if not message.get("more_body", False):
                    state["done"] = True
            return message

        async def guarded_send(message: Message) -> None:
            if state["refused"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not state["refused"]:
                raise


def _too_large(size: int, limit: int, partial: bool = False) -> str:
    got = f"over {limit} bytes" if partial else f"{size} bytes"
    return f"the request body is {got}; at most {limit} bytes are accepted"


async def _answer(send: Send, exc: CredledgerError) -> None:
    body = _error_body(exc)
    await send(
        {
            "type": "http.response.start",
            "status": exc.http_status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# --- static files ---------------------------------------------------------------------------------


class BoundedStaticFiles(StaticFiles):
    """Starlette's StaticFiles whose every path answers a file, 404 or 405 — never a 500: a path
    too long for the file system (``File name too long``), with a NUL, or otherwise unusable by
    ``os.stat`` is simply not a file here. The path itself is never logged."""

    MAX_PATH_BYTES = 1024

    async def get_response(self, path: str, scope: Scope) -> Response:
        if len(path.encode("utf-8", "surrogatepass")) > self.MAX_PATH_BYTES or any(
            len(part.encode("utf-8", "surrogatepass")) > 255 for part in path.split("/")
        ):
            raise HTTPException(status_code=404)
        try:
            return await super().get_response(path, scope)
        except (OSError, ValueError):
            raise HTTPException(status_code=404) from None
