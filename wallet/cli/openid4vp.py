"""`credledger wallet openid4vp show|present|decline <link>`: answer a verifier's OpenID4VP
request (the link in its QR code) through the wallet service."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from credledger.node.core.errors import InputError
from credledger.wallet.cli.common import TokenOpt, UrlOpt, _client, _print_json, console, when

openid4vp_app = typer.Typer(
    name="openid4vp",
    help="Answer a verifier's OpenID4VP request (openid4vp://… link): show, present, decline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

LinkArg = Annotated[str, typer.Argument(help="the openid4vp:// link (quote it in the shell)")]


def _show(asked: dict[str, Any]) -> None:
    v = asked["verifier"]
    trust = "trusted" if v["trusted"] else "NOT trusted"
    console.print(f"verifier {v['name']} at {v['host']} ({trust}: {v['trustReason']})",
                  highlight=False)  # fmt: skip
    console.print(f"  client_id {v['clientId']}", highlight=False)
    until = when(asked["expiresAt"]) if asked.get("expiresAt") else "no expiry given"
    console.print(f"  response {asked['responseMode']}, answer before {until}", highlight=False)
    for n, cs in enumerate(asked.get("credentialSets") or []):
        options = " or ".join("[" + ", ".join(o) + "]" for o in cs["options"])
        need = "required" if cs["required"] else "optional"
        can = "can answer" if cs["satisfiable"] else "cannot answer"
        console.print(f"set {n} ({need}): one of {options} ({can})", highlight=False, markup=False)
    for q in asked["queries"]:
        types = ", ".join(q["licenceTypes"]) or ", ".join(q["vctValues"]) or "?"
        fields = ", ".join(q["asks"]) or "no fields"
        state = "can answer" if q["satisfiable"] else f"cannot answer: {q['reason']}"
        console.print(f"query {q['id']}: {types} — asks {fields} ({state})", highlight=False)
        for c in q["candidates"]:
            lacks = f"  lacks {c['missing']}" if c["missing"] else ""
            console.print(f"  {c['licenceId']}  {c['title']}  {c['number']}  {c['status']}"
                          f"{lacks}", highlight=False)  # fmt: skip


@openid4vp_app.command("show")
def show(
    link: LinkArg,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """What the verifier asks, who it is, and which of the enterprise's licences answer."""
    asked = _client(url, token).json("POST", "/v1/openid4vp/resolve", json={"link": link})
    if as_json:
        _print_json(asked)
    else:
        _show(asked)


def _choices(
    asked: dict[str, Any], licences: list[str], disclose: list[str] | None
) -> dict[str, Any]:
    wanted = [lic.strip().lower() for lic in licences]
    choices: dict[str, Any] = {}
    for q in asked["queries"]:
        ids = [
            c["licenceId"] for c in q["candidates"] if not c["missing"] and not c.get("unavailable")
        ]
        pick = next((lic for lic in wanted if lic in ids), None)
        if pick is None and not wanted and len(ids) == 1:
            pick = ids[0]
        if pick is None and not q.get("required", True):
            continue  # an alternative of a credential set: another query may answer it
        if pick is None:
            named = f" ({', '.join(wanted)} is not one)" if wanted else ""
            held = ", ".join(ids) or "none held"
            raise InputError(
                f"query {q['id']}: name the licence with --licence{named}; candidates: {held}"
            )
        cand = next(c for c in q["candidates"] if c["licenceId"] == pick)
        # with claim_sets: the fields of the first set this licence can disclose
        choices[q["id"]] = {"licenceId": pick, "disclose": disclose or cand.get("disclose")
                            or q["asks"]}  # fmt: skip
    return choices


@openid4vp_app.command("present")
def present(
    link: LinkArg,
    licence: Annotated[
        list[str] | None,
        typer.Option("--licence", help="the licence to present (0x…; once per query)"),
    ] = None,
    disclose: Annotated[
        str | None,
        typer.Option(help="fields to disclose, comma-separated (default: those asked)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Present licences to the verifier: SD-JWT VCs disclosing the asked fields (or --disclose)."""
    client = _client(url, token)
    asked = client.json("POST", "/v1/openid4vp/resolve", json={"link": link})
    fields = [f.strip() for f in disclose.split(",") if f.strip()] if disclose else None
    body = {"link": link, "choices": _choices(asked, licence or [], fields)}
    out = client.json("POST", "/v1/openid4vp/respond", json=body)
    if as_json:
        _print_json(out)
        return
    at = dt.datetime.now().timestamp()
    console.print(f"presented to {asked['verifier']['name']} at {when(at, '%H:%M:%S')}: the "
                  f"verifier answered {out['verifierStatus']}", highlight=False)  # fmt: skip
    if out.get("redirectUri"):
        console.print(f"continue at {out['redirectUri']}", highlight=False)


@openid4vp_app.command("decline")
def decline(link: LinkArg, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Tell the verifier the enterprise declines (access_denied)."""
    out = _client(url, token).json("POST", "/v1/openid4vp/decline", json={"link": link})
    console.print(f"declined: the verifier answered {out['verifierStatus']}", highlight=False)
