"""DCQL (OpenID4VP 1.0 section 6): the queries this verifier asks and how a presentation's claims
are matched against them. Supported: ``credentials`` of format ``dc+sd-jwt`` with
``meta.vct_values``, ``claims`` (``id``, ``path``, optional ``values``) and ``claim_sets``;
``credential_sets`` (``options``, ``required``). Not supported (refused with 422): other
formats, ``multiple``, ``trusted_authorities``."""

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
MAX_SETS = 8  # credential sets, options per set, claim sets per query
SET_KEYS = {"options", "required", "purpose"}  # purpose: drafts 22-24, kept, not read
DEFAULT_FIELDS = ("name", "number", "validUntil")


def from_matter(
    licence_types: list[str], fields: list[str] | None, any_of: bool = False
) -> dict[str, Any]:
    """A DCQL query asking one SD-JWT VC of each licence type, disclosing ``fields``; with
    ``any_of``, one of them: a credential set with one option per type (the first held is
    presented)."""
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
    if len({c["id"] for c in credentials}) != len(credentials):
        raise InputError("licenceTypes: each type once", field="licenceTypes")
    query: dict[str, Any] = {"credentials": credentials}
    if any_of:
        query["credential_sets"] = [{"options": [[c["id"]] for c in credentials]}]
    return checked(query)


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


def _ids(value: Any, what: str, known: set[str]) -> list[str]:
    """A non-empty list of at most ``MAX_CLAIMS`` ids, each one of ``known``, each once."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CLAIMS:
        raise _fail(f"{what}: a non-empty list of ids")
    for x in value:
        if not isinstance(x, str) or x not in known:
            raise _fail(f"{what}: {str(x)[:64]!r} is not the id of one of them")
    if len(set(value)) != len(value):
        raise _fail(f"{what}: an id appears twice")
    return list(value)


def _claim_sets(cq: dict[str, Any], claims: list[dict[str, Any]]) -> list[list[str]]:
    """A credential query's ``claim_sets`` (section 6.1): lists of ids of its claims, which
    then all have ids; the first set the wallet can satisfy is the one it returns."""
    sets = cq["claim_sets"]
    ids = {c["id"] for c in claims if "id" in c}
    if not claims or len(ids) != len(claims):
        raise _fail(f"{cq['id']}: claim_sets need claims, each with an id")
    if not isinstance(sets, list) or not 1 <= len(sets) <= MAX_SETS:
        raise _fail(f"{cq['id']}.claim_sets: 1 to {MAX_SETS} lists of claim ids")
    return [_ids(one, f"{cq['id']}.claim_sets", ids) for one in sets]


def _credential_sets(sets: Any, known: set[str]) -> list[dict[str, Any]]:
    """``credential_sets`` (section 6.2): each ``options`` (lists of credential query ids, one of
    which the wallet returns) and ``required`` (default true)."""
    if not isinstance(sets, list) or not 1 <= len(sets) <= MAX_SETS:
        raise _fail(f"credential_sets: 1 to {MAX_SETS} credential set queries")
    out = []
    for n, one in enumerate(sets):
        where = f"credential_sets[{n}]"
        if not isinstance(one, dict) or "options" not in one or set(one) - SET_KEYS:
            raise _fail(f"{where}: an object of options, required (and purpose)")
        options = one["options"]
        if not isinstance(options, list) or not 1 <= len(options) <= MAX_SETS:
            raise _fail(f"{where}.options: 1 to {MAX_SETS} lists of credential query ids")
        required = one.get("required", True)
        if not isinstance(required, bool):
            raise _fail(f"{where}.required: true or false")
        for o in options:
            _ids(o, f"{where}.options", known)
        out.append(dict(one))  # as the verifier wrote it (``required`` may be left out)
    return out


def checked(query: Any) -> dict[str, Any]:
    """``query`` if it is a DCQL query this verifier can answer, else a 422 saying why."""
    if (
        not isinstance(query, dict)
        or "credentials" not in query
        or set(query) - {"credentials", "credential_sets"}
    ):
        raise _fail("an object with 'credentials' and optionally 'credential_sets'")
    creds = query["credentials"]
    if not isinstance(creds, list) or not 1 <= len(creds) <= MAX_CREDENTIALS:
        raise _fail(f"credentials: 1 to {MAX_CREDENTIALS} credential queries")
    seen: set[str] = set()
    out = []
    for cq in creds:
        if not isinstance(cq, dict) or set(cq) - {"id", "format", "meta", "claims", "claim_sets"}:
            raise _fail("a credential query has id, format, meta, claims and claim_sets")
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
        one = {**cq, "claims": [_claim(c) for c in claims]}
        claim_ids = [c["id"] for c in one["claims"] if "id" in c]
        if len(set(claim_ids)) != len(claim_ids):
            raise _fail(f"{cid}: each claim id once")
        if "claim_sets" in cq:
            one["claim_sets"] = _claim_sets(cq, one["claims"])
        out.append(one)
    result: dict[str, Any] = {"credentials": out}
    if "credential_sets" in query:
        result["credential_sets"] = _credential_sets(query["credential_sets"], seen)
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


def _claim_misses(claims: dict[str, Any], c: dict[str, Any]) -> str | None:
    values = _select(claims, c["path"])
    if not values:
        return f"claim {c['path']} is not disclosed"
    if c.get("values") is not None and not any(v in c["values"] for v in values):
        return f"claim {c['path']} is not one of {c['values']}"
    return None


def claim_set_met(cq: dict[str, Any], claims: dict[str, Any]) -> int | None:
    """The index of the first of ``cq``'s ``claim_sets`` fully disclosed in ``claims`` (None
    when none is, or the query has no claim sets)."""
    by_id = {c.get("id"): c for c in cq.get("claims", [])}
    for n, ids in enumerate(cq.get("claim_sets") or []):
        if all(_claim_misses(claims, by_id[i]) is None for i in ids):
            return n
    return None


def mismatches(cq: dict[str, Any], claims: dict[str, Any]) -> list[str]:
    """Why a presented credential's ``claims`` (disclosures applied) do not satisfy the
    credential query ``cq``; empty when they do. With ``claim_sets``, one set in full is
    enough (section 6.4.1); otherwise every claim is needed."""
    out = []
    vct = claims.get("vct")
    if vct not in cq["meta"]["vct_values"]:
        out.append(f"the credential is of type {vct!r}, the query asks {cq['meta']['vct_values']}")
    sets = cq.get("claim_sets")
    if sets:
        if claim_set_met(cq, claims) is None:
            by_id = {c.get("id"): c for c in cq.get("claims", [])}
            lacking = [
                "[" + ", ".join(i for i in ids if _claim_misses(claims, by_id[i])) + "]"
                for ids in sets
            ]
            out.append(f"no claim set is disclosed in full (each lacks: {' or '.join(lacking)})")
        return out
    for c in cq.get("claims", []):
        why = _claim_misses(claims, c)
        if why:
            out.append(why)
    return out


def sets_judged(
    query: dict[str, Any], verdicts: dict[str, str]
) -> tuple[str, list[str], list[str]]:
    """The verdict of a response to a query with ``credential_sets`` (sections 6.4.2, 8.6), from
    the verdicts of the credential queries answered (``verdicts``: id -> VALID, SUSPENDED, …,
    REFUSED; a query not answered is absent): (verdict, codes, reasons). A REFUSED presentation
    is discarded (section 8.6); each required set then needs an option whose queries are all
    VALID. A set none of whose options is answered in full is REFUSED
    ``credential_set_not_satisfied``; one answered in full but not VALID (e.g. a suspended
    licence) takes that option's first other verdict."""
    kept = {q: v for q, v in verdicts.items() if v != "REFUSED"}
    codes: list[str] = []
    reasons: list[str] = []
    verdict = "VALID"
    for n, cs in enumerate(query.get("credential_sets") or []):
        if not cs.get("required", True):
            continue
        options = cs["options"]
        if any(all(kept.get(q) == "VALID" for q in o) for o in options):
            continue
        full = [o for o in options if all(q in kept for q in o)]
        if full:
            first = next(kept[q] for q in full[0] if kept[q] != "VALID")
            verdict = first if verdict == "VALID" else verdict
            continue
        verdict = "REFUSED"
        codes.append("credential_set_not_satisfied")
        asked = " or ".join("[" + ", ".join(o) + "]" for o in options)
        reasons.append(f"credential set {n}: no option was answered in full (it asks {asked})")
    return verdict, codes, reasons
