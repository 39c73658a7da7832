"""A fast path for small multipart/form-data requests (a clerk's document upload).

python-multipart parses by callbacks over a streaming state machine: right for large uploads,
but for a form of a few fields and one small file it costs more than the whole verdict. Here a
body of at most ``MAX_BODY`` bytes is read at once and split on its boundary. Anything unusual
(no Content-Length, a preamble, a malformed part, many parts, an encoding we do not expect)
returns ``None`` and the caller uses the streaming parser, which sees the same body (Starlette
keeps the bytes read here for it).

The answer is the same as ``routes.licences.read_payload``'s: the text fields, and the SHA-256
of the ``document`` file part.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request

from credledger.node.core.errors import InputError, PayloadTooLargeError
from credledger.node.core.fingerprints import file_digest
from credledger.node.core.http.errors import safe_name

MAX_BODY = 256 * 1024
MAX_PARTS = 32

# one ``; key=value`` or ``; key="value"`` parameter; escapes, RFC 2231 (``key*=``) and anything
# else unusual do not match, and the request goes to the full parser
_PARAM = re.compile(rb'[ \t]*;[ \t]*([A-Za-z0-9_.-]+)=(?:"([^"\\\r\n]*)"|([^;"\s\\]*))[ \t]*')


def options(value: bytes) -> tuple[bytes, dict[bytes, bytes]] | None:
    """``kind; key=value; …`` of a Content-Type or Content-Disposition header: the kind (lower
    case) and the parameters (keys lower case), or None for anything this simple reader does not
    take (python-multipart's ``parse_options_header`` is a fifth of a small verdict)."""
    kind, _, _ = value.partition(b";")
    pos, params = len(kind), {}
    while pos < len(value):
        m = _PARAM.match(value, pos)
        if m is None or m.end() == pos:
            return None
        quoted, bare = m.group(2), m.group(3)
        params[m.group(1).lower()] = quoted if quoted is not None else bare
        pos = m.end()
    return kind.strip().lower(), params


async def small_form(request: Request, limit: int) -> tuple[dict[str, Any], bytes | None] | None:
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return None
    length = request.headers.get("content-length", "")
    if not length.isdigit() or int(length) > min(MAX_BODY, limit + 64 * 1024):
        return None
    parsed = options(ctype.encode("latin-1"))
    boundary = parsed[1].get(b"boundary") if parsed is not None else None
    if not boundary:
        return None
    body = await request.body()
    delimiter = b"\r\n--" + boundary
    segments = (b"\r\n" + body).split(delimiter)
    # segments: "" before the first delimiter (no preamble), the parts, then "--" (+ epilogue)
    if len(segments) < 3 or segments[0] or not segments[-1].startswith(b"--"):
        return None
    if len(segments) - 2 > MAX_PARTS:
        return None
    fields: dict[str, Any] = {}
    doc_hash: bytes | None = None
    for segment in segments[1:-1]:
        if not segment.startswith(b"\r\n"):
            return None
        head, sep, content = segment[2:].partition(b"\r\n\r\n")
        if not sep:
            return None
        disposition: dict[bytes, bytes] | None = None
        for line in head.split(b"\r\n"):
            name, colon, value = line.partition(b":")
            if not colon:
                return None
            key = name.strip().lower()
            if key == b"content-disposition":
                parsed = options(value.strip())
                if parsed is None or parsed[0] != b"form-data":
                    return None
                disposition = parsed[1]
            elif key == b"content-transfer-encoding":
                return None  # leave the unusual to the full parser
        if disposition is None or b"name" not in disposition:
            return None
        field = disposition[b"name"].decode("utf-8", errors="replace")
        if b"filename" in disposition:
            if field != "document":
                raise InputError(
                    f"unexpected file field {safe_name(field)!r}; send the file as 'document'"
                )
            if len(content) > limit:
                raise PayloadTooLargeError(f"the document is over {limit} bytes")
            doc_hash = file_digest(content)
            continue
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            return None
        if field == "metadata":
            try:
                fields[field] = json.loads(text)
            except ValueError:
                raise InputError("metadata must be a JSON object") from None
        else:
            fields[field] = text
    return fields, doc_hash
