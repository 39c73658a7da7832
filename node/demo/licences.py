"""Demo departments, clerk, admin and enterprise for `credledger up` on a devnet.

The tokens here are public (they are printed by `up` and used in the README), which is why
``Settings`` refuses ``licences.demo`` outside a devnet. Dev accounts 1-3 sign for the demo
departments; dev account 0 is the deployer/admin.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from credledger.node.auth import Principal, hash_token
from credledger.node.core.contracts.licence_registry import LicenceExists
from credledger.node.core.demo import DEMO_ENTERPRISE_NAME, DEMO_ENTERPRISE_USCC
from credledger.node.licences.catalogue import load_catalogue
from credledger.node.runtime import NodeRuntime
from credledger.node.settings import (
    ClerkSettings,
    DepartmentSettings,
    ServiceTokenSettings,
    Settings,
)

ADMIN_TOKEN = "devnet-admin-token"
DEMO_SEAL_PASSPHRASE = "devnet-seal-passphrase"


@dataclass(frozen=True)
class DemoDepartment:
    name: str
    display_name: str
    dev_account: int
    token: str
    issues: tuple[str, ...]
    supervises: tuple[str, ...]
    display_name_en: str = ""
    uscc: str | None = None  # GB 32100, the issuer code of GB/T 36904 identifiers


def _codes(*categories: str) -> tuple[str, ...]:
    return tuple(t.code for t in load_catalogue().types if t.category in categories)


MARKET = ("BL", "FOOD", "SE", "IND", "INSP", "METR")
DEMO_DEPARTMENTS = [
    DemoDepartment(
        "market",
        "市场监督管理局",
        1,
        "devnet-market-token",
        _codes(*MARKET),
        _codes(*MARKET),
        display_name_en="Market Regulation",
        uscc="11310000MB2F00001F",
    ),
    DemoDepartment(
        "drugs",
        "药品监督管理局",
        2,
        "devnet-drugs-token",
        _codes("MED"),
        _codes("MED"),
        display_name_en="Medical Products Administration",
        uscc="11310000MB2F00002J",
    ),
    DemoDepartment(
        "enforcement",
        "综合行政执法",
        3,
        "devnet-enforcement-token",
        (),
        _codes(*MARKET, "MED"),
        display_name_en="Enforcement",
        uscc="11310000MB2F00003M",
    ),
]
CLERK_NAME = "counter-1"
CLERK_TOKEN = "devnet-clerk-token"
# the wallet service's identity: it may anchor hashes (api.service_tokens)
WALLET_SERVICE = "wallet"
WALLET_TOKEN = "devnet-wallet-token"


def demo_settings(settings: Settings) -> Settings:
    """``settings`` with the demo departments, clerk and admin token added (devnet only)."""
    if settings.chain.kind != "devnet":
        return settings
    have = {d.name for d in settings.departments}
    departments = list(settings.departments) + [
        DepartmentSettings(
            name=d.name,
            display_name=d.display_name,
            display_name_en=d.display_name_en,
            dev_account=d.dev_account,
            uscc=d.uscc,
            token_sha256=[hash_token(d.token)],
            issues=list(d.issues),
            supervises=list(d.supervises),
            seal_keystore=demo_seal_key(settings.data_dir, d.name),
            seal_passphrase=SecretStr(DEMO_SEAL_PASSPHRASE),
        )
        for d in DEMO_DEPARTMENTS
        if d.name not in have
    ]
    clerks = list(settings.clerks)
    if not any(c.name == CLERK_NAME for c in clerks):
        clerks.append(
            ClerkSettings(
                name=CLERK_NAME, department="market", token_sha256=[hash_token(CLERK_TOKEN)]
            )
        )
    licences = settings.licences.model_copy(
        update={
            "admin_token_sha256": [
                *settings.licences.admin_token_sha256,
                hash_token(ADMIN_TOKEN),
            ]
        }
    )
    services = list(settings.api.service_tokens)
    if not any(s.name == WALLET_SERVICE for s in services):
        services.append(
            ServiceTokenSettings(name=WALLET_SERVICE, token_sha256=[hash_token(WALLET_TOKEN)])
        )
    api = settings.api.model_copy(update={"service_tokens": services})
    return settings.model_copy(
        update={"departments": departments, "clerks": clerks, "licences": licences, "api": api}
    )


def demo_seal_key(data_dir: Path, name: str) -> Path | None:
    """The demo department's SM2 seal keystore (made on first use; its passphrase is public, like
    the demo tokens). `up` registers the key on chain for the department (``prepare``)."""
    try:
        from credledger.node.core.keystore import save_sm2_key
        from credledger.node.core.sm2 import Sm2PrivateKey
    except ImportError:  # a build without the SM2 library: the demo issues unsealed
        return None
    path = data_dir / "demo" / f"seal-{name}.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_sm2_key(path, Sm2PrivateKey.generate(), DEMO_SEAL_PASSPHRASE)
    return path


def demo_tokens() -> dict[str, str]:
    out = {d.name: d.token for d in DEMO_DEPARTMENTS}
    out[f"clerk {CLERK_NAME}"] = CLERK_TOKEN
    out[f"service {WALLET_SERVICE}"] = WALLET_TOKEN
    out["admin"] = ADMIN_TOKEN
    return out


def enable(settings: Settings) -> Settings:
    """Turn the demo on (devnet chains only; a no-op elsewhere)."""
    if settings.chain.kind != "devnet":
        return settings
    return settings.model_copy(
        update={"licences": settings.licences.model_copy(update={"demo": True})}
    )


def demo_documents(data_dir: Path) -> dict[str, Path]:
    """Small demo licence documents written to ``data_dir/demo`` (their SHA-256 goes on chain)."""
    folder = data_dir / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    docs = {
        "BL-BUSINESS": f"营业执照 Business licence\n统一社会信用代码 {DEMO_ENTERPRISE_USCC}\n"
        f"名称 {DEMO_ENTERPRISE_NAME}\n登记机关 市场监督管理局 (demo)\n",
        "FOOD-OPERATION": f"食品经营许可证 Food business permit JY13101050000001\n"
        f"经营者 {DEMO_ENTERPRISE_NAME} {DEMO_ENTERPRISE_USCC}\n",
    }
    out = {}
    for code, text in docs.items():
        path = folder / f"{code.lower()}.txt"
        path.write_text(text, encoding="utf-8")
        out[code] = path
    return out


def prepare(runtime: NodeRuntime, say: Callable[[str], None]) -> None:
    """Register the catalogue, authorise the demo departments and issue the demo enterprise's
    business licence and food permit (each step skipped when already done)."""
    from credledger.node.licences.service import (
        IssueInput,
        authorise_departments,
        register_catalogue,
    )

    service = runtime.licences
    if service is None:
        say("licences: no LicenceRegistry in the manifest; demo data skipped")
        return
    n = register_catalogue(
        runtime.chain, service.registry_address, runtime.sender, service.catalogue
    )
    if n:
        say(f"registered {n} licence types on chain")
    authorise_departments(
        runtime.chain, service.registry_address, runtime.sender, service.departments
    )
    seals = service.ctx.seals
    if seals is not None:
        for name in seals.register_pending(service.departments, service.ctx.registry):
            say(f"registered the {name} department's seal key {seals.keys[name].key_id} on chain")
    docs = demo_documents(runtime.settings.data_dir)
    market = Principal("department", "market", "market")
    year = 365 * 24 * 3600
    now = service.now()
    serials = {"BL-BUSINESS": "DEMO-BL-0001", "FOOD-OPERATION": "JY13101050000001"}
    for code, path in docs.items():
        item = IssueInput(
            type=code,
            serial_number=serials[code],
            doc_hash=hashlib.sha256(path.read_bytes()).digest(),
            valid_from=now - 3600,
            valid_until=0 if code == "BL-BUSINESS" else now + 5 * year,
            holder_uscc=DEMO_ENTERPRISE_USCC,
            metadata={"holderName": DEMO_ENTERPRISE_NAME},
        )
        try:
            done = service.issue(market, item)
            say(f"issued demo {code} {done.licenceId}  (document {path})")
        except LicenceExists:
            pass  # issued on an earlier start
    base = f"http://{runtime.settings.api.host}:{runtime.settings.api.port}"
    say(f"demo enterprise  {base}/v1/enterprises/{DEMO_ENTERPRISE_USCC}")
    for who, token in demo_tokens().items():
        say(f"demo token  {who:<18} {token}")
