"""DCQL ``credential_sets`` and ``claim_sets`` as the holder reads them (OpenID4VP 1.0 sections
6.2 and 6.4): which credential queries must be answered, which claims of a held licence make one
claim set, and which chosen queries one answer sends — for each credential set the first option
(in the verifier's order of preference) all of whose queries were chosen, nothing more.
docs/openid4vp.md, "Holder: our wallet"."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from credledger.node.core.errors import InputError
from credledger.wallet.openid4vp.request import InvalidRequest

MAX_SETS = 16


def credential_sets(dcql: dict[str, Any], ids: set[str]) -> list[dict[str, Any]] | None:
    """The query's credential sets as ``{"options", "required"}`` (None without any); a set
    that is not a list of options naming credential queries makes the request unanswerable."""
    raw = dcql.get("credential_sets")
    if raw is None:
        return None
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_SETS:
        raise InvalidRequest("the DCQL credential_sets are not a list of credential set queries")
    out = []
    for n, cs in enumerate(raw):
        options = cs.get("options") if isinstance(cs, dict) else None
        required = cs.get("required", True) if isinstance(cs, dict) else None
        if (
            not isinstance(options, list)
            or not 1 <= len(options) <= MAX_SETS
            or not isinstance(required, bool)
            or not all(
                isinstance(o, list) and o and all(isinstance(q, str) and q in ids for q in o)
                for o in options
            )
        ):
            raise InvalidRequest(
                f"the DCQL credential_sets[{n}] is not options (lists of the request's "
                "credential query ids) and required (true or false)"
            )
        out.append({"options": [list(o) for o in options], "required": required})
    return out


def required_ids(sets: list[dict[str, Any]] | None, ids: Iterable[str]) -> set[str]:
    """The queries answered whatever option is taken: all without credential sets, else those
    in every option of a required set."""
    if sets is None:
        return set(ids)
    out: set[str] = set()
    for cs in sets:
        if cs["required"]:
            out |= set.intersection(*(set(o) for o in cs["options"]))
    return out


def sets_view(sets: list[dict[str, Any]], satisfiable: dict[str, bool]) -> list[dict[str, Any]]:
    """Each set with whether one of its options has every query answerable by a held licence."""
    return [
        {**cs, "satisfiable": any(all(satisfiable.get(q) for q in o) for o in cs["options"])}
        for cs in sets
    ]


def claim_sets(cq: dict[str, Any]) -> list[list[str]] | None:
    """A query's ``claim_sets`` as lists of claim ids (None without any); ValueError with the
    reason when they do not name the query's claims."""
    raw = cq.get("claim_sets")
    if raw is None:
        return None
    ids = {c.get("id") for c in cq.get("claims") or [] if isinstance(c, dict)}
    if (
        not isinstance(raw, list)
        or not 1 <= len(raw) <= MAX_SETS
        or not all(isinstance(s, list) and s and all(i in ids for i in s) for s in raw)
        or None in ids
    ):
        raise ValueError("claim_sets: lists of the ids of the query's claims")
    return [list(s) for s in raw]


def claim_set_of(
    cq: dict[str, Any], sets: list[list[str]] | None, has: Callable[[dict[str, Any]], bool]
) -> tuple[int | None, list[str], list[list[Any]]]:
    """For a held licence (``has``: whether it has a claim): the first claim set it can disclose
    in full, the claim names to disclose for it, and the claim paths it lacks (of the first set
    when it has none; every claim without claim sets)."""
    claims = [c for c in cq.get("claims") or [] if isinstance(c, dict)]
    if sets is None:
        return None, _names(claims), [c["path"] for c in claims if not has(c)]
    by_id = {c["id"]: c for c in claims}
    for n, ids in enumerate(sets):
        if all(has(by_id[i]) for i in ids):
            return n, _names(by_id[i] for i in ids), []
    return None, _names(by_id[i] for i in sets[0]), [by_id[i]["path"] for i in sets[0]
                                                    if not has(by_id[i])]  # fmt: skip


def _names(claims: Iterable[dict[str, Any]]) -> list[str]:
    return sorted({c["path"][0] for c in claims})


def names_of_sets(cq: dict[str, Any], sets: list[list[str]]) -> list[list[str]]:
    """The claim names each claim set asks to disclose."""
    by_id = {c["id"]: c for c in cq.get("claims") or []}
    return [_names(by_id[i] for i in ids) for ids in sets]


def sent(sets: list[dict[str, Any]] | None, chosen: set[str]) -> set[str]:
    """The chosen queries an answer sends: all without credential sets; else, per set, the first
    option all of whose queries were chosen (a required set without one is a 422)."""
    if sets is None:
        return set(chosen)
    out: set[str] = set()
    for n, cs in enumerate(sets):
        met = next((o for o in cs["options"] if set(o) <= chosen), None)
        if met is not None:
            out |= set(met)
        elif cs["required"]:
            alternatives = " or ".join("[" + ", ".join(o) + "]" for o in cs["options"])
            raise InputError(
                f"choices: the verifier asks one of {alternatives} (credential set {n}); "
                "choose a licence for every query of one of them",
                field="choices",
            )
    return out


def covers(
    cq: dict[str, Any],
    sets: list[list[str]],
    disclosed: set[str],
    has: Callable[[dict[str, Any]], bool],
) -> bool:
    """Whether ``disclosed`` (claim names) is a claim set in full that the licence has."""
    by_id = {c["id"]: c for c in cq.get("claims") or []}
    return any(all(has(by_id[i]) and by_id[i]["path"][0] in disclosed for i in ids) for ids in sets)
