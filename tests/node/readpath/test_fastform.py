"""The small-form fast path answers exactly what the streaming parser (``read_payload``) answers,
for forms as clients build them, and steps aside (None) for anything unusual."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from credledger.node.api.fastform import small_form
from credledger.node.core.errors import InputError

LIMIT = 10 * 1024 * 1024


def _request(body: bytes, ctype: str, length: bool = True) -> Request:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", ctype.encode())]
    if length:
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}
    return Request(scope, receive)


def _built(data: dict[str, str], files: dict[str, Any] | None) -> tuple[bytes, str]:
    req = httpx.Request("POST", "http://x/", data=data, files=files)
    return req.read(), req.headers["content-type"]


async def _reference(body: bytes, ctype: str) -> tuple[dict[str, Any], bytes | None]:
    form = await _request(body, ctype).form()
    fields: dict[str, Any] = {}
    doc = None
    for k, v in form.multi_items():
        if hasattr(v, "read"):
            doc = hashlib.sha256(await v.read()).digest()
        else:
            fields[k] = v
    return fields, doc


@pytest.mark.parametrize(
    "data,files",
    [
        ({"licenceId": "0x" + "ab" * 32}, {"document": ("p.txt", "食品生产许可证\n".encode())}),
        ({}, {"document": ("p.pdf", bytes(range(256)) * 40, "application/pdf")}),
        ({"documentHash": "0x" + "11" * 32, "note": "a\r\nb--c"}, None),
        ({"a": "", "b": "x" * 5000}, {"document": ("--boundary-like.txt", b"\r\n--x\r\n")}),
    ],
)
def test_same_answer_as_the_streaming_parser(
    data: dict[str, str], files: dict[str, Any] | None
) -> None:
    if files is None:  # httpx sends a urlencoded form without files: force multipart
        files = {"unused": ("", b"")}
        body, ctype = _built(data, files)
        body = body.replace(b'; filename=""', b"")  # a plain field, not a file
    else:
        body, ctype = _built(data, files)
    fast = asyncio.run(small_form(_request(body, ctype), LIMIT))
    assert fast is not None
    assert fast == asyncio.run(_reference(body, ctype))


def test_steps_aside_for_the_unusual() -> None:
    body, ctype = _built({"a": "1"}, {"document": ("p.txt", b"x")})
    assert asyncio.run(small_form(_request(b"preamble\r\n" + body, ctype), LIMIT)) is None
    assert asyncio.run(small_form(_request(body, ctype, length=False), LIMIT)) is None
    assert asyncio.run(small_form(_request(body[:-10], ctype), LIMIT)) is None  # truncated
    big, big_type = _built({}, {"document": ("p.bin", b"z" * 300_000)})
    assert asyncio.run(small_form(_request(big, big_type), LIMIT)) is None
    assert asyncio.run(small_form(_request(b"{}", "application/json"), LIMIT)) is None
    wrong, wrong_type = _built({}, {"other": ("p.txt", b"x")})
    with pytest.raises(InputError, match="unexpected file field"):
        asyncio.run(small_form(_request(wrong, wrong_type), LIMIT))


SIMPLE_HEADERS = [
    b"multipart/form-data; boundary=credledgerbench",
    b'multipart/form-data; boundary="----WebKitFormBoundary7MA4YWxkTrZu0gW"',
    b'form-data; name="document"; filename="permit.txt"',
    b"form-data;name=x",
    b'Form-Data; NAME="x" ',
    b'form-data; name=""',
    'form-data; name="材料"; filename="营业执照.pdf"'.encode(),
]
UNUSUAL_HEADERS = [
    b'form-data; name="a\\"b"',  # an escape
    b"form-data; filename*=UTF-8''%E4%B8%AD.pdf",  # RFC 2231
    b'form-data; name="x";',  # a stray separator
    b'form-data; name="x"; filename="C:\\\\a\\\\b.pdf"',  # a path python-multipart shortens
]


@pytest.mark.parametrize("value", SIMPLE_HEADERS)
def test_header_options_as_python_multipart_reads_them(value: bytes) -> None:
    from python_multipart.multipart import parse_options_header

    from credledger.node.api.fastform import options

    assert options(value) == parse_options_header(value)


@pytest.mark.parametrize("value", UNUSUAL_HEADERS)
def test_unusual_header_options_go_to_the_full_parser(value: bytes) -> None:
    from credledger.node.api.fastform import options

    assert options(value) is None
