"""Department e-seals (issue 20, docs/standards.md "E-seals"): the seal keys a node acts with,
the GB/T 36903 metadata a seal signs, and the signing.

A department configured with ``seal_keystore`` seals every licence it issues or amends: the node
builds the licence version's :class:`~credledger.node.core.gbt.LicenceMetadata`, signs its
``canonical()`` bytes with SM2 (GM/T 0003: SM3 with the Z value of the department's user id,
``1234567812345678`` unless configured) and sends ``issueSealed`` / ``issueBatchSealed`` /
``amendSealed``: the chain keeps (keyId, r, s) in ``LicenceSealed``. The node keeps the signed
metadata in its seal store (``seal_store.py``; for a person holder with the citizen ID masked).

At start (:func:`load_seal_keys`) each key is loaded from its encrypted keystore and looked up
on chain: it must be registered for that very department as an SM2 key and not retired, else
the node refuses to start (:class:`ConfigError`). On the devnet demo a missing key is registered
by the department itself (``register_missing``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from credledger.node.core.contracts.licence_registry import LicenceRegistry, Seal
from credledger.node.core.errors import ConfigError, CredledgerError, NotFoundError
from credledger.node.core.gbt import LONG_TERM, LicenceMetadata, gbt_identifier
from credledger.node.core.identifiers import mask_citizen_id
from credledger.node.departments import (
    Department,
    Departments,
    key_id_on_chain,
    keystore_passphrase,
    registered_key_id,
)
from credledger.node.licences.catalogue import LicenceType
from credledger.node.licences.seal_store import SealStore, StoredSeal
from credledger.node.settings import DepartmentSettings

if TYPE_CHECKING:
    from credledger.node.core.sm2 import Sm2PrivateKey

log = logging.getLogger("credledger.node.licences")
DEFAULT_DIST_ID = b"1234567812345678"  # GM/T 0009's default user id (core.sm2's)

SM2_KIND = 1
ALGORITHM = "SM2-with-SM3"
BEIJING = timezone(timedelta(hours=8))
# LicenceMetadata's fields by their JSON names (LicenceMetadata.json)
_FIELDS = {
    "name": "name",
    "typeCode": "type_code",
    "number": "number",
    "identifier": "identifier",
    "authority": "authority",
    "issueDate": "issue_date",
    "holderName": "holder_name",
    "holderCode": "holder_code",
    "holderCodeType": "holder_code_type",
    "validFrom": "valid_from",
    "validUntil": "valid_until",
}


class NotSealed(NotFoundError):
    """The licence (version) carries no e-seal on chain."""

    code = "not_sealed"


def metadata_from_json(data: Any) -> LicenceMetadata:
    """A :class:`LicenceMetadata` from its JSON form (``LicenceMetadata.json``); every field is
    required, no other key is allowed."""
    from credledger.node.core.errors import InputError

    if not isinstance(data, dict):
        raise InputError(
            "metadata must be a JSON object of the GB/T 36903 fields", field="metadata"
        )
    missing = [k for k in _FIELDS if k not in data]
    extra = [k for k in data if k not in _FIELDS]
    if missing or extra:
        raise InputError(
            "metadata: "
            + "; ".join(
                x
                for x in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unknown {', '.join(extra)}" if extra else "",
                )
                if x
            ),
            field="metadata",
        )
    try:
        return LicenceMetadata(**{_FIELDS[k]: data[k] for k in _FIELDS})
    except CredledgerError as exc:
        raise InputError(f"metadata: {exc.message}", field="metadata") from None


def build_metadata(
    t: LicenceType,
    dept: Department,
    number: str,
    *,
    version: int,
    holder_kind: str,
    holder_code: str,
    holder_name: str,
    valid_from: int,
    valid_until: int,
    issued_at: int | None = None,
) -> LicenceMetadata:
    """The GB/T 36903 metadata of one licence version as its department seals it: the type's
    Chinese name and GB/T 36902 code, the licence number, the GB/T 36904 identifier of this
    version, the department's name as authority, the issue date (of this version: today, Beijing
    time), the holder and the validity (``valid_until`` exclusive, 0 = 长期)."""
    from credledger.node.core.errors import InputError

    uscc = dept.uscc
    if not t.type_code or not uscc:
        missing = (
            "the type has no GB/T 36902 type code"
            if not t.type_code
            else (f"department {dept.name} has no unified social credit code")
        )
        raise InputError(f"cannot seal a {t.code} licence: {missing}", field="type")
    identifier = gbt_identifier(t.type_code, str(uscc), number, version)
    names = dept.display_names()
    return LicenceMetadata(
        name=t.zh,
        type_code=t.type_code,
        number=number,
        identifier=str(identifier),
        authority=names["zh"],
        issue_date=beijing_date(issued_at if issued_at is not None else int(time.time())),
        holder_name=holder_name,
        holder_code=holder_code,
        holder_code_type="citizen_id" if holder_kind == "person" else "uscc",
        valid_from=beijing_date(valid_from),
        valid_until=valid_until_text(valid_until),
    )


def beijing_date(unix: int) -> str:
    return datetime.fromtimestamp(unix, BEIJING).strftime("%Y-%m-%d")


def valid_until_text(valid_until_exclusive: int) -> str:
    """The metadata's validity end: the last valid Beijing day, or 长期 (no end)."""
    if not valid_until_exclusive:
        return LONG_TERM
    return beijing_date(valid_until_exclusive - 1)


def masked(md: LicenceMetadata) -> tuple[dict[str, str], bool]:
    """The metadata as the node may store and show it: for a person, the citizen ID masked and
    the name left out (a person's name is never kept, docs/standards.md)."""
    body = md.json()
    if md.holder_code_type == "citizen_id":
        body["holderCode"] = mask_citizen_id(md.holder_code)
        body["holderName"] = ""
        return body, True
    return body, False


@dataclass(frozen=True)
class SealKey:
    """A department's SM2 seal key, loaded, with its on-chain key id (never shown or logged)."""

    department: str
    address: str
    key_id: int
    public_raw: bytes
    dist_id: bytes
    private: Sm2PrivateKey = field(repr=False, compare=False)

    def seal(self, licence_id: bytes, version: int, md: LicenceMetadata) -> tuple[Seal, StoredSeal]:
        """Sign ``md`` for one licence version: the on-chain seal and the row the node keeps."""
        if not self.key_id:
            raise ConfigError(f"department {self.department}: its seal key is not registered yet")
        from credledger.node.core.sm2 import der_to_rs

        der = self.private.sign(md.canonical(), self.dist_id)
        r, s = der_to_rs(der)
        body, hidden = masked(md)
        stored = StoredSeal(
            licence_id,
            version,
            self.key_id,
            self.dist_id.decode("utf-8"),
            body,
            hidden,
            der,
        )
        return Seal(self.key_id, r.to_bytes(32, "big"), s.to_bytes(32, "big")), stored


class Seals:
    """The seal keys of the departments this node acts for, and what it keeps of its seals."""

    def __init__(self, keys: dict[str, SealKey], store: SealStore) -> None:
        self.keys = keys
        self.store = store

    def key_of(self, department: str) -> SealKey | None:
        return self.keys.get(department)

    def register_pending(
        self, departments: Departments, registry: LicenceRegistry, only: str | None = None
    ) -> list[str]:
        """Register the keys loaded with ``register_missing`` or ``seal_register`` (devnets, once
        their departments are authorised on chain), each by its own department; their names."""
        done = []
        for name, key in list(self.keys.items()):
            if key.key_id or (only is not None and name != only):
                continue
            key_id = registered_key_id(departments.get(name), key.public_raw, registry, *_SM2)
            self.keys[name] = replace(key, key_id=key_id)
            done.append(name)
        return done

    def close(self) -> None:
        self.store.close()


def seal_passphrase(cfg: DepartmentSettings) -> str:
    """The passphrase of a department's seal keystore (settings, else its environment variable)."""
    return keystore_passphrase(cfg.name, cfg.seal_passphrase, cfg.seal_passphrase_env, "seal")


def load_seal_keys(
    configs: list[DepartmentSettings],
    departments: Departments,
    registry: LicenceRegistry,
    *,
    register_missing: bool = False,
    devnet: bool = False,
) -> dict[str, SealKey]:
    """Load every configured seal key and find its on-chain key id (see the module docstring).
    With ``register_missing`` (or a department's ``seal_register``, devnets only) a key the chain
    does not have yet is kept with key id 0, for :meth:`Seals.register_pending`."""
    keys: dict[str, SealKey] = {}
    for cfg in configs:
        if cfg.seal_keystore is None:
            continue
        if cfg.seal_register and not devnet:
            raise ConfigError(f"department {cfg.name}: seal_register is for devnets only")
        dept = departments.get(cfg.name)
        if not cfg.seal_keystore.is_file():
            raise ConfigError(
                f"department {cfg.name}: seal_keystore {cfg.seal_keystore} is missing"
            )
        if not dept.uscc:
            raise ConfigError(
                f"department {cfg.name}: a seal needs the department's uscc (the issuer code of "
                "the GB/T 36904 identifier it signs)"
            )
        from credledger.node.core.keystore import load_sm2_key

        passphrase = seal_passphrase(cfg)
        private = load_sm2_key(cfg.seal_keystore, passphrase)
        raw = private.public_key().raw()
        key_id = key_id_on_chain(cfg.name, dept.address, raw, registry, *_SM2)
        if key_id is None:
            if not (register_missing or cfg.seal_register):
                raise ConfigError(
                    f"department {cfg.name}: its seal key is not registered on chain for "
                    f"{dept.address}; register it (credledger seal key register) and start again"
                )
            key_id = 0  # registered by the demo once the department is known on chain
        dist = cfg.seal_dist_id.encode("utf-8")
        keys[cfg.name] = SealKey(cfg.name, dept.address, int(key_id), raw, dist, private)
    return keys


#: the seal key's kind on chain, its name and its kind in messages (node.departments' key helpers)
_SM2 = (SM2_KIND, "seal", "an SM2 key")


__all__ = [
    "ALGORITHM",
    "DEFAULT_DIST_ID",
    "NotSealed",
    "SealKey",
    "Seals",
    "load_seal_keys",
    "metadata_from_json",
]
