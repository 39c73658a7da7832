"""`credledger licence …`: issue, change, show and verify licences through a node; tokens;
on-chain setup of the catalogue and department roles (admin key).

Times print in the node's ``timezone`` setting (``CREDLEDGER_TIMEZONE``, Asia/Shanghai by
default) with the zone named (``2026-05-01 10:00:00 +08:00``); a licence's end is its last valid
day exactly as the node answers it (``validUntil``), the same on every surface."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import urllib.parse
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import typer
from rich.table import Column, Table

from credledger.node.cli._app import app, console, node_url, parse_rpc
from credledger.node.core.errors import CredledgerError, InputError

licence_app = typer.Typer(
    help="Licences: issue, suspend, revoke, show, verify (through a node's API).",
    no_args_is_help=True,
)
app.add_typer(licence_app, name="licence")

NodeOpt = Annotated[
    str,
    typer.Option(
        "--node",
        envvar="CREDLEDGER_NODE_URL",
        help="node API base URL (default: the one `credledger up` recorded in the data dir, "
        "else http://127.0.0.1:8600)",
        show_default=False,
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", envvar="CREDLEDGER_TOKEN", help="department or clerk bearer token"),
]
KeyOpt = Annotated[
    str | None, typer.Option("--idempotency-key", help="retrying with the same key never repeats")
]
DEFAULT_NODE = ""  # resolved by node_url(): the URL `up` recorded, else 127.0.0.1:8600


class NodeAnswer(CredledgerError):
    """The node refused the request; the message is the node's."""

    code = "node_error"


def _call(
    method: str,
    node: str,
    path: str,
    token: str | None = None,
    key: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    node = node_url(node)
    headers: dict[str, str] = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Idempotency-Key"] = key
    try:
        r = httpx.request(method, node.rstrip("/") + path, headers=headers, timeout=120, **kw)
    except httpx.HTTPError as exc:
        raise NodeAnswer(f"cannot reach the node at {node}: {exc}") from None
    try:
        body: dict[str, Any] = r.json()
    except ValueError:
        body = {"message": r.text}
    if r.status_code >= 400:
        raise NodeAnswer(f"{r.status_code}: {body.get('message', r.text)}")
    return body


def zone() -> dt.tzinfo:
    """The node's ``timezone`` setting (its config file or ``CREDLEDGER_TIMEZONE``), else
    Asia/Shanghai."""
    name = os.environ.get("CREDLEDGER_TIMEZONE")
    if not name:
        from credledger.node.settings import load_settings

        try:
            name = load_settings().timezone
        except CredledgerError:  # a broken config is `up`'s to report, not `show`'s
            name = None
    try:
        return ZoneInfo(name or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def when(seconds: Any, tz: dt.tzinfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Unix seconds in ``tz`` with the zone named (``2026-05-01 10:00:00 +08:00``)."""
    if seconds in (None, "", 0):
        return ""
    try:
        t = dt.datetime.fromtimestamp(float(seconds), tz)
    except (TypeError, ValueError, OverflowError, OSError):
        return str(seconds)
    z = t.strftime("%z")
    return f"{t.strftime(fmt)} {z[:3]}:{z[3:]}"


def _print(body: dict[str, Any], as_json: bool) -> None:
    if as_json:
        console.print_json(json.dumps(body, ensure_ascii=False))


JsonOpt = Annotated[bool, typer.Option("--json", help="print the node's JSON answer")]


@licence_app.command("types")
def types(node: NodeOpt = DEFAULT_NODE, offline: bool = False) -> None:
    """List licence types (the shipped catalogue with --offline, else the node's incl. new ones)."""
    if offline:
        from credledger.node.licences.catalogue import load_catalogue

        rows = [t.to_json() for t in load_catalogue().types]
    else:
        rows = _call("GET", node, "/v1/licence-types")["types"]
    table = Table("code", "category", "中文", "English", "holder")
    for t in rows:
        table.add_row(t["code"], t["category"], t["zh"], t["en"], t["holder"])
    console.print(table)


@licence_app.command("issue")
def issue(
    type_code: Annotated[
        str, typer.Option("--type", help="licence type code, e.g. FOOD-OPERATION")
    ],
    serial: Annotated[str, typer.Option("--serial", help="the department's licence number")],
    valid_from: Annotated[str, typer.Option("--valid-from", help="YYYY-MM-DD or unix seconds")],
    document: Annotated[
        Path | None, typer.Option("--document", help="the licence document (its SHA-256 is sent)")
    ] = None,
    document_hash: Annotated[str | None, typer.Option("--document-hash")] = None,
    uscc: Annotated[str | None, typer.Option("--uscc", help="holder's credit code")] = None,
    citizen_id: Annotated[
        str | None, typer.Option("--citizen-id", help="holder's ID number (never leaves the node)")
    ] = None,
    valid_until: Annotated[str | None, typer.Option("--valid-until")] = None,
    holder_address: Annotated[str | None, typer.Option("--holder-address")] = None,
    node: NodeOpt = DEFAULT_NODE,
    token: TokenOpt = None,
    key: KeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Issue a licence as the department whose token is given."""
    if document is not None:
        try:
            document_hash = "0x" + hashlib.sha256(document.read_bytes()).hexdigest()
        except OSError as exc:
            raise InputError(f"cannot read {document}: {exc}") from None
    body = {
        "type": type_code,
        "serialNumber": serial,
        "documentHash": document_hash,
        "validFrom": valid_from,
        "validUntil": valid_until,
        "holderUscc": uscc,
        "holderCitizenId": citizen_id,
        "holderAddress": holder_address,
    }
    out = _call(
        "POST",
        node,
        "/v1/licences",
        token,
        key,
        json={k: v for k, v in body.items() if v is not None},
    )
    _print(out, as_json)
    if not as_json:
        console.print(f"issued {out['type']} {out['licenceId']}")
        console.print(f"holder {out['holder']['display']}  tx {out['transactionHash']}")


LICENCE_HELP = "0x licence id or GB/T 36904 identifier (1.2.156.3005.2.…)"


def _ref(licence: str) -> str:
    """A licence id or identifier as one URL path segment (the node folds case and width)."""
    return urllib.parse.quote(licence.strip(), safe="")


def _change(action: str) -> Any:
    def command(
        licence_id: Annotated[str, typer.Argument(help=LICENCE_HELP)],
        reason: Annotated[int | None, typer.Option("--reason", help="reason code")] = None,
        note: Annotated[str | None, typer.Option("--note", help="kept off chain")] = None,
        node: NodeOpt = DEFAULT_NODE,
        token: TokenOpt = None,
        key: KeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        body: dict[str, Any] = {"note": note} if note else {}
        if reason is not None:
            body["reasonCode"] = reason
        path = f"/v1/licences/{_ref(licence_id)}/{action}"
        out = _call("POST", node, path, token, key, json=body)
        _print(out, as_json)
        if not as_json:
            console.print(f"{action}: {out['licenceId']} is now {out['status']}")

    command.__doc__ = f"{action.capitalize()} a licence (reason codes: GET /v1/reason-codes)."
    return command


for _action in ("suspend", "reinstate", "revoke"):
    licence_app.command(_action)(_change(_action))


@licence_app.command("show")
def show(
    licence_id: Annotated[str, typer.Argument(help=LICENCE_HELP)],
    node: NodeOpt = DEFAULT_NODE,
    as_json: JsonOpt = False,
) -> None:
    """A licence with its status and history (from chain events)."""
    out = _call("GET", node, f"/v1/licences/{_ref(licence_id)}")
    if as_json:
        _print(out, True)
        return
    tz = zone()
    t = out["type"]
    issuer = out.get("issuer") or {}
    console.print(f"{t.get('code')} {t.get('zh', '')} / {t.get('en', '')}")
    console.print(f"id       {out.get('identifier') or '(no GB/T 36904 identifier)'}",
                  highlight=False)  # fmt: skip
    console.print(f"         {out['licenceId']}", highlight=False)
    console.print(f"status   {out['status']}  version {out['version']}", highlight=False)
    reason = out.get("statusReason")
    if reason:
        console.print(f"         {reason.get('text') or reason.get('code')} since "
                      f"{when(reason.get('since'), tz)}", highlight=False)  # fmt: skip
    console.print(f"holder   {out['holder']['display'] or out['holder']['subject']}")
    shown = issuer.get("displayName") or {}
    names = " / ".join(n for n in (shown.get("zh"), shown.get("en")) if n)
    code = issuer.get("name") or issuer.get("address")
    console.print(f"issuer   {names} ({code})" if names else f"issuer   {code}")
    last_day = out.get("validUntil") or "长期 (no end)"
    console.print(f"valid    from {when(out['validFrom'], tz)}  last valid day {last_day}",
                  highlight=False)  # fmt: skip
    console.print(f"issued   {when(out.get('issuedAt'), tz)}", highlight=False)
    md = out.get("metadata")
    if md:  # GB/T 36903 (docs/standards.md); a person's code masked, their name not kept
        holder = " ".join(x for x in (md["holderName"], md["holderCode"]) if x)
        console.print(f"GB/T 36903  {md['name']} {md['number']}, {md['authority']}, "
                      f"issued {md['issueDate']}, holder {holder} ({md['holderCodeType']}), "
                      f"valid {md['validFrom']} – {md['validUntil']}", highlight=False)  # fmt: skip
    table = Table(Column(f"time ({tz})", no_wrap=True), "action", "by", "detail")
    for h in out["history"]:
        by = h.get("by")
        who = by if isinstance(by, str) else (by or {}).get("name") or (by or {}).get("address")
        detail = h.get("reason") or h.get("verdict") or h.get("docHash") or ""
        table.add_row(when(h.get("time"), tz), h["action"], str(who), str(detail))
    console.print(table)


@licence_app.command("verify")
def verify(
    document: Annotated[Path, typer.Argument(help="the document to check")],
    licence_id: Annotated[
        str | None, typer.Option("--licence", help="the licence it claims: " + LICENCE_HELP)
    ] = None,
    node: NodeOpt = DEFAULT_NODE,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    metadata: Annotated[
        Path | None,
        typer.Option(
            "--metadata", help="the licence's GB/T 36903 metadata (JSON) to check its seal"
        ),
    ] = None,
) -> None:
    """Verdict for a document, with the licence's e-seal checked (over --metadata if given);
    with a clerk token the check is recorded and anchored."""
    try:
        doc_hash = "0x" + hashlib.sha256(document.read_bytes()).hexdigest()
    except OSError as exc:
        raise InputError(f"cannot read {document}: {exc}") from None
    body: dict[str, Any] = {"documentHash": doc_hash}
    if licence_id:
        body["licenceId"] = licence_id
    if metadata is not None:
        try:
            body["metadata"] = json.loads(metadata.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read the metadata {metadata}: {exc}") from None
    out = _call("POST", node, "/v1/verify/document", token, json=body)
    if as_json:
        _print(out, True)
    else:
        colour = "green" if out["verdict"] == "VALID" else "red"
        console.print(f"[{colour}]{out['verdict']}[/{colour}]", highlight=False)
        for reason in out["reasons"]:
            console.print(f"  {reason}", highlight=False)
        seal = out.get("seal")
        if seal:
            ok = "green" if seal["status"] == "VALID" else "yellow"
            key = f" key {seal['keyId']}" if seal.get("keyId") else ""
            console.print(
                f"e-seal [{ok}]{seal['status']}[/{ok}]{key}: {seal['reason']}", highlight=False
            )
        if "verification" in out:
            console.print(f"recorded as {out['verification']['id']}")
    if out["verdict"] != "VALID":
        raise typer.Exit(1)


@licence_app.command("enterprise")
def enterprise(uscc: str, node: NodeOpt = DEFAULT_NODE, as_json: JsonOpt = False) -> None:
    """The enterprise code view: every licence and supervision record of one USCC."""
    out = _call("GET", node, f"/v1/enterprises/{uscc}")
    if as_json:
        _print(out, True)
        return
    tz = zone()
    table = Table("type", "status", "last valid day", "licence id")
    for x in out["licences"]:
        table.add_row(
            x["type"].get("code") or "?", x["status"], x["validUntil"] or "长期", x["licenceId"]
        )
    console.print(table)
    for s in out["supervision"]:
        console.print(f"supervision {s['kind']} at {when(s['time'], tz)} ref {s['refHash']}",
                      highlight=False)  # fmt: skip


@licence_app.command("token")
def token_new() -> None:
    """Make a new bearer token; put its SHA-256 in the settings and give the token out once."""
    from credledger.node.auth import hash_token, new_token

    t = new_token()
    console.print(f"token        {t}")
    console.print(f"token_sha256 {hash_token(t)}")


@licence_app.command("setup-chain")
def setup_chain(
    rpc: Annotated[str, typer.Option("--rpc")] = "http://127.0.0.1:8545",
    keystore: Annotated[Path | None, typer.Option("--keystore")] = None,
    password_file: Annotated[Path | None, typer.Option("--password-file")] = None,
    dev_account: Annotated[int | None, typer.Option("--dev-account")] = None,
) -> None:
    """Admin: register the catalogue and give the configured departments their on-chain roles."""
    from credledger.node.core.chain import Chain
    from credledger.node.core.errors import DeploymentError
    from credledger.node.core.manifest import addresses, load_manifest
    from credledger.node.core.signer import resolve_account
    from credledger.node.core.tx import TxSender
    from credledger.node.departments import SenderPool, build_departments
    from credledger.node.licences.catalogue import load_catalogue
    from credledger.node.licences.service import authorise_departments, register_catalogue
    from credledger.node.settings import load_settings

    rpc_urls = parse_rpc(rpc)
    settings = load_settings(chain={"rpc_urls": rpc_urls})
    chain = Chain(rpc_urls)
    admin = TxSender(
        chain, resolve_account(keystore, password_file, dev_account if keystore is None else None)
    )
    registry = addresses(load_manifest(settings.manifest_path(chain.chain_id))).get(
        "LicenceRegistry"
    )
    if registry is None:
        raise DeploymentError("the manifest has no LicenceRegistry; run `credledger deploy`")
    n = register_catalogue(chain, registry, admin, load_catalogue(), progress=console.print)
    depts = build_departments(settings.departments, [], [], SenderPool(chain, admin))
    sent = authorise_departments(chain, registry, admin, depts, progress=console.print)
    console.print(f"{n} types registered, {sent} role transactions sent")


@licence_app.command("register-type")
def register_type(
    code: Annotated[str, typer.Option("--code", help="stable code, e.g. FOOD-CENTRAL-KITCHEN")],
    category: Annotated[str, typer.Option("--category", help="FOOD, SE, IND, INSP, METR, MED…")],
    zh: Annotated[str, typer.Option("--zh", help="Chinese name")],
    en: Annotated[str, typer.Option("--en", help="English name")],
    holder: Annotated[str, typer.Option("--holder", help="enterprise, person or any")] = (
        "enterprise"
    ),
    type_code: Annotated[
        str | None,
        typer.Option("--type-code", help="GB/T 36902 code: defining department's USCC + 3 digits"),
    ] = None,
    fingerprint: Annotated[str, typer.Option("--fingerprint", help="sha256 or sm3")] = "sha256",
    node: NodeOpt = DEFAULT_NODE,
    token: TokenOpt = None,
) -> None:
    """Admin: register a new licence type on chain through the node (admin token)."""
    body = {"code": code, "category": category, "zh": zh, "en": en, "holder": holder,
            "fingerprint": fingerprint}  # fmt: skip
    if type_code:
        body["typeCode"] = type_code
    out = _call("POST", node, "/v1/licence-types", token, json=body)
    console.print(f"registered {out['code']} ({out['typeId']}) tx {out['transactionHash']}")


@licence_app.command("authorise")
def authorise(
    type_code: Annotated[str, typer.Option("--type", help="licence type code")],
    department: Annotated[str, typer.Option("--department", help="the department's address")],
    roles: Annotated[
        list[str], typer.Option("--role", help="issuer and/or supervisor (repeat the option)")
    ],
    node: NodeOpt = DEFAULT_NODE,
    token: TokenOpt = None,
) -> None:
    """Admin: set a department address's roles for a type (no --role removes them)."""
    body = {"department": department, "roles": roles}
    out = _call("POST", node, f"/v1/licence-types/{type_code}/authorisations", token, json=body)
    console.print(f"{out['department']} is now {out['roles'] or 'nothing'} for {out['type']}")


@licence_app.command("retire-key")
def retire_key(
    key: Annotated[str, typer.Argument(help="the department key's address")],
    node: NodeOpt = DEFAULT_NODE,
    token: TokenOpt = None,
) -> None:
    """Admin: retire a department key for good (leaked or replaced); its licences stay valid."""
    out = _call("POST", node, f"/v1/department-keys/{key}/retire", token)
    retired = when(out["retiredAt"], zone())  # the contract's value, then the zone's time
    console.print(f"{out['key']} retired at {out['retiredAt']} ({retired}) "
                  f"tx {out['transactionHash']}", highlight=False)  # fmt: skip
