"""The demo departments' P-256 credential keys (issue 21): made on first use under
``data_dir/demo`` with a public passphrase (like the demo tokens) and registered on chain by each
department once the demo has authorised it (``prepare``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import SecretStr

from credledger.node.credentials.keys import generate_p256, save_p256_key
from credledger.node.demo.licences import DEMO_DEPARTMENTS
from credledger.node.runtime import NodeRuntime
from credledger.node.settings import Settings

DEMO_CREDENTIAL_PASSPHRASE = "devnet-credential-passphrase"


def demo_credential_key(data_dir: Path, name: str) -> Path:
    path = data_dir / "demo" / f"credential-{name}.pem"
    if not path.is_file():
        save_p256_key(path, generate_p256(), DEMO_CREDENTIAL_PASSPHRASE)
    return path


def with_demo_credential_keys(settings: Settings) -> Settings:
    """``settings`` (with the demo departments) where each demo department without a credential
    key gets the demo's."""
    demo = {d.name for d in DEMO_DEPARTMENTS}
    departments = [
        d.model_copy(
            update={
                "credential_keystore": demo_credential_key(settings.data_dir, d.name),
                "credential_passphrase": SecretStr(DEMO_CREDENTIAL_PASSPHRASE),
            }
        )
        if d.name in demo and d.credential_keystore is None
        else d
        for d in settings.departments
    ]
    return settings.model_copy(update={"departments": departments})


def prepare(runtime: NodeRuntime, say: Callable[[str], None]) -> None:
    """Register the demo departments' credential keys (after the licence demo authorised them)."""
    service = runtime.credentials
    if service is None or runtime.licences is None:
        return
    lic = runtime.licences
    for name in service.keys.register_pending(lic.departments, lic.ctx.registry):
        key = next(k for k in service.keys.keys.values() if k.name == name)
        say(f"registered the {name} department's credential key {key.key_id} on chain")
