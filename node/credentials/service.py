"""The credential service: export a licence as ``vc+jwt`` or ``dc+sd-jwt`` and verify either
(docs/credentials.md). Built by ``node/components/credentials.py``."""

from __future__ import annotations

import time
from typing import Any

from credledger.node.auth import Principal
from credledger.node.core.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from credledger.node.credentials.certificates import IssuerCA
from credledger.node.credentials.export import (
    StatusSource,
    export_sd_jwt,
    export_vc_jwt,
    holder_jwk,
)
from credledger.node.credentials.keys import CredentialKeys
from credledger.node.credentials.verify import (
    Checked,
    Refused,
    check_sd_jwt,
    check_vc_jwt,
    judge,
)
from credledger.node.licences.service import LicenceService
from credledger.node.licences.verdicts import Verdict

FORMATS = ("vc-jwt", "sd-jwt")
MAX_CREDENTIAL = 64 * 1024


class NoCredentialKey(ConflictError):
    code = "no_credential_key"


class NoIssuerCA(NotFoundError):
    code = "no_issuer_ca"


class CredentialService:
    def __init__(
        self,
        licences: LicenceService,
        keys: CredentialKeys,
        *,
        status: StatusSource | None = None,
        base_url: str,
        issuer_ca: IssuerCA | None = None,
    ) -> None:
        self.licences = licences
        #: the devnet issuer CA (certificates.py), served as verifiers' trust anchor; None
        #: outside a devnet, where the operator's CA issues the departments' certificates
        self.issuer_ca = issuer_ca
        self.keys = keys
        self.status = status
        self.base_url = base_url.rstrip("/")
        self.chain_id = int(licences.ctx.registry.chain.chain_id)
        self.registry = licences.ctx.registry.address

    # --- export -------------------------------------------------------------------------------

    def export(
        self,
        ref: str,
        fmt: str,
        *,
        holder: str | None = None,
        principal: Principal | None = None,
        now: int | None = None,
    ) -> str:
        """The licence ``ref`` (id or GB/T 36904 identifier) as a credential of format ``fmt``.
        Binding it to a holder key (``holder``: a P-256 JWK) needs the issuing department's or a
        service's token (the wallet): anyone else could bind someone's licence to their own key."""
        if fmt not in FORMATS:
            raise InputError(f"format must be one of {', '.join(FORMATS)}", field="format")
        lid = self.licences.licence_id(ref)
        detail = self.licences.get(lid).model_dump(mode="json")
        issuer = (detail.get("issuer") or {}).get("address")
        key = self.keys.of(issuer) if issuer else None
        if key is None or not key.key_id:
            raise NoCredentialKey(
                f"this node holds no credential key of the licence's issuer {issuer}; export it "
                "at a node of that department",
                licenceId=detail["licenceId"],
            )
        jwk = holder_jwk(holder)
        if jwk is not None:
            if fmt != "sd-jwt":
                raise InputError("holderJwk binds an SD-JWT VC (format=sd-jwt)", field="holderJwk")
            allowed = principal is not None and (
                principal.kind == "service"
                or (principal.kind == "department" and principal.department == key.name)
            )
            if not allowed:
                raise ForbiddenError(
                    "binding a credential to a holder key needs the issuing department's or the "
                    "wallet service's token"
                )
        at = int(time.time()) if now is None else now
        if fmt == "vc-jwt":
            return export_vc_jwt(detail, key, at, status=self.status, base_url=self.base_url)
        return export_sd_jwt(
            detail, key, at, holder=jwk, status=self.status, base_url=self.base_url
        )

    def issuer_ca_pem(self) -> bytes:
        """The devnet issuer CA certificate (PEM); NoIssuerCA when this node has none."""
        if self.issuer_ca is None:
            raise NoIssuerCA(
                "this node has no devnet issuer CA: its departments' certificates (x5c) come "
                "from the operator's certificate authority, or it has none"
            )
        return self.issuer_ca.pem()

    # --- verify -------------------------------------------------------------------------------

    def verify(
        self,
        credential: str,
        *,
        nonce: str | None = None,
        audience: str | None = None,
        wait: bool = True,
    ) -> dict[str, Any] | None:
        """The verdict of a VC-JWT or an SD-JWT VC (presentation); see ``verify.py``. With
        ``wait=False`` (the event loop) None when answering would wait for the indexer: this
        node's own last write not indexed yet, or a licence the read model does not know."""
        if not isinstance(credential, str) or not credential.strip():
            raise InputError("credential: a VC-JWT or an SD-JWT VC", field="credential")
        text = "".join(credential.split())
        if len(text) > MAX_CREDENTIAL:
            raise InputError("credential: too long", field="credential")
        model = self.licences.ctx.model
        fmt = "sd-jwt" if "~" in text else "vc-jwt"
        body: dict[str, Any] = {"format": fmt}
        ctx = self.licences.ctx

        def check() -> Checked:
            if fmt == "sd-jwt":
                return check_sd_jwt(
                    text,
                    model,
                    self.chain_id,
                    self.registry,
                    nonce=nonce,
                    audience=audience,
                    now=int(time.time()),
                )
            return check_vc_jwt(text, model, self.chain_id, self.registry)

        try:
            try:
                checked = check()
            except Refused as r:
                if not r.unknown_key:
                    raise
                if not wait:
                    return None  # the thread waits for the indexer, then looks again
                if not ctx.catch_up():
                    raise
                checked = check()
        except Refused as r:
            return {**body, "verdict": r.verdict.value, "reasons": [r.reason], "disclosed": {}}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            if isinstance(exc, InputError):
                raise
            # signed claims of the wrong shape (a well-formed credential of ours never has them)
            reason = f"the signed claims are malformed ({type(exc).__name__})"
            return {**body, "verdict": Verdict.TAMPERED.value, "reasons": [reason], "disclosed": {}}
        if not wait and (
            model.height < ctx.last_write_block or model.licence(checked.licence_id) is None
        ):
            return None
        ctx.own_writes_indexed()  # read-your-writes, as the licence reads
        if model.licence(checked.licence_id) is None:
            self.licences.queries.wait_known(checked.licence_id)
        with model.snapshot():
            verdict, reasons, block = judge(checked, model, self._type_code)
        disclosed = checked.disclosed if verdict is not Verdict.TAMPERED else {}
        return {
            **body,
            "verdict": verdict.value,
            "reasons": [*reasons, *checked.reasons],
            "licenceId": "0x" + checked.licence_id.hex(),
            "version": checked.version,
            "issuer": {"id": checked.claims.get("iss") or checked.claims.get("issuer")},
            "key": {
                "keyId": checked.key.key_id,
                "department": checked.key.department,
                "registeredAt": checked.key.registered_at,
                "retiredAt": checked.key.retired_at or None,
            },
            "issuedAt": checked.issued_at,
            "holderBound": checked.holder_bound,
            "disclosed": disclosed,
            "disclosedFields": sorted(disclosed),
            "judgedAtBlock": block,
        }

    def _type_code(self, type_id: bytes) -> str | None:
        t = self.licences.admin.type_by_id(type_id)
        return t.code if t is not None else None
