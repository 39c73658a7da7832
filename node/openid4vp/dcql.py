"""DCQL (OpenID4VP 1.0 section 6): the queries this verifier asks and how a presentation's claims
are matched against them. Supported: ``credentials`` of format ``dc+sd-jwt`` with
``meta.vct_values`` and ``claims`` (``path``, optional ``values``); not supported (refused
with 422): ``credential_sets``, ``claim_sets``, other formats, ``multiple``."""

from __future__ import annotations

import re
from typing import Any

from credledger.node.core.errors import InputError
from credledger.node.core.identifiers import refuse_citizen_ids
from credledger.node.credentials.export import SD_TYP, SUBJECT_FIELDS
from credledger.node.credentials.ids import vct_of

ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TYPE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,63}$")
MAX_CREDENTIALS = 8
MAX_CLAIMS = 32
DEFAULT_FIELDS = ("name", "number", "validUntil")


def from_matter(licence_types: list[str], fields: list[str] | None) -> dict[str, Any]:
    """A DCQL query asking one SD-JWT VC of each licence type, disclosing ``fields``."""
    if not licence_types or len(licence_types) > MAX_CREDENTIALS:
        raise InputError(
            f"licenceTypes: 1 to {MAX_CREDENTIALS} licence type codes", field="licenceTypes"
        )
    wanted = list(fields) if fields is not None else list(DEFAULT_FIELDS)
    for f in wanted:
        if f not in SUBJECT_FIELDS:
            raise InputError(
                f"fields: {f!r} is not a licence field ({', '.join(SUBJECT_FIELDS)})",
                field="fields",
            )
    credentials = []
    for code in licence_types:
        if not isinstance(code, str) or not TYPE.match(code):
            raise InputError(f"licenceTypes: {code!r} is not a type code", field="licenceTypes")
        credentials.append(
            {
                "id": code.lower().replace("-", "_"),
                "format": SD_TYP,
                "meta": {"vct_values": [vct_of(code)]},
                "claims": [{"path": [f]} for f in dict.fromkeys(wanted)],
            }
        )
    return checked({"credentials": credentials})


def _fail(message: str) -> InputError:
    return InputError(f"dcqlQuery: {message}", field="dcqlQuery")


def _claim(c: Any) -> dict[str, Any]:
    if not isinstance(c, dict) or set(c) - {"id", "path", "values"}:
        raise _fail("a claim is an object of id, path and values")
    path = c.get("path")
    if not isinstance(path, list) or not 1 <= len(path) <= 8:
        raise _fail("a claim's path is a list of 1 to 8 elements")
    for p in path:
        ok = p is None or (isinstance(p, str) and 0 < len(p) <= 100)
        if not ok and not (isinstance(p, int) and not isinstance(p, bool) and 0 <= p < 1000):
            raise _fail("a path element is a name, an index or null")
    values = c.get("values")
    if values is not None and (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, str | int | bool) for v in values)
    ):
        raise _fail("a claim's values are a list of strings, numbers or booleans")
    if "id" in c and not (isinstance(c["id"], str) and ID.match(c["id"])):
        raise _fail("a claim's id is alphanumeric, '_' or '-'")
    return dict(c)


def checked(query: Any) -> dict[str, Any]:
    """``query`` if it is a DCQL query this verifier can answer, else a 422 saying why."""
    if not isinstance(query, dict) or set(query) != {"credentials"}:
        raise _fail("an object with 'credentials' (credential_sets are not supported)")
    creds = query["credentials"]
    if not isinstance(creds, list) or not 1 <= len(creds) <= MAX_CREDENTIALS:
        raise _fail(f"credentials: 1 to {MAX_CREDENTIALS} credential queries")
    seen: set[str] = set()
    out = []
    for cq in creds:
        if not isinstance(cq, dict) or set(cq) - {"id", "format", "meta", "claims"}:
            raise _fail("a credential query has id, format, meta and claims (no claim_sets)")
        cid = cq.get("id")
        if not isinstance(cid, str) or not ID.match(cid) or cid in seen:
            raise _fail("each credential query has a unique id (alphanumeric, '_' or '-')")
        seen.add(cid)
        if cq.get("format") != SD_TYP:
            raise _fail(f"only format {SD_TYP} is supported")
        meta = cq.get("meta")
        vcts = meta.get("vct_values") if isinstance(meta, dict) else None
        if (
            not isinstance(meta, dict)
            or set(meta) != {"vct_values"}
            or not isinstance(vcts, list)
            or not vcts
            or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in vcts)
        ):
            raise _fail("meta.vct_values: a list of credential types")
        claims = cq.get("claims", [])
        if not isinstance(claims, list) or len(claims) > MAX_CLAIMS:
            raise _fail(f"claims: a list of at most {MAX_CLAIMS} claim queries")
        out.append({**cq, "claims": [_claim(c) for c in claims]})
    result = {"credentials": out}
    refuse_citizen_ids(result, "dcqlQuery")  # the query is stored with the request
    return result


def _select(value: Any, path: list[Any]) -> list[Any]:
    """The values ``path`` selects in ``value`` (section 7)."""
    found = [value]
    for p in path:
        nxt: list[Any] = []
        for v in found:
            if isinstance(p, str) and isinstance(v, dict) and p in v:
                nxt.append(v[p])
            elif p is None and isinstance(v, list):
                nxt.extend(v)
            elif isinstance(p, int) and isinstance(v, list) and p < len(v):
                nxt.append(v[p])
        found = nxt
    return [v for v in found if v is not None]


def mismatches(cq: dict[str, Any], claims: dict[str, Any]) -> list[str]:
    """Why a presented credential's ``claims`` (disclosures applied) do not satisfy the
    credential query ``cq``; empty when they do."""
    out = []
    vct = claims.get("vct")
    if vct not in cq["meta"]["vct_values"]:
        out.append(f"the credential is of type {vct!r}, the query asks {cq['meta']['vct_values']}")
    for c in cq.get("claims", []):
        values = _select(claims, c["path"])
        if not values:
            out.append(f"claim {c['path']} is not disclosed")
        elif c.get("values") is not None and not any(v in c["values"] for v in values):
            out.append(f"claim {c['path']} is not one of {c['values']}")
    return out
