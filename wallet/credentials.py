"""Open credentials from the wallet (issue 21 item 4): an SD-JWT VC presentation of a licence the
enterprise holds, disclosing only the fields it chooses, bound to the enterprise's key.

The holder key is a P-256 key derived from the enterprise's chain key (HKDF-SHA256, info
``credledger sd-jwt holder key``): the same key every time, never stored, and only for custodial
enterprises (one that keeps its own key presents from its device). The node binds the credential
to it (``cnf.jwk``; it accepts a holder key only from a service such as this wallet) and the
presentation's KB-JWT, built with ``credledger.node.core.sdjwt``, proves the holder signed it for
the verifier's nonce and audience. docs/credentials.md.
"""

from __future__ import annotations

import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import ECKey

from credledger.node.core import sdjwt
from credledger.node.core.errors import ConflictError, InputError
from credledger.node.core.receipts import hex32
from credledger.wallet.accounts import AccountService, Caller
from credledger.wallet.node_client import NodeClient
from credledger.wallet.presentations import PresentationService

HOLDER_INFO = b"credledger sd-jwt holder key"
# the order of P-256's group
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def holder_key(chain_key: bytes) -> ECKey:
    """The enterprise's P-256 holder key, derived from its 32-byte chain key."""
    okm = HKDF(hashes.SHA256(), 40, salt=None, info=HOLDER_INFO).derive(chain_key)
    scalar = int.from_bytes(okm, "big") % (_N - 1) + 1
    return ECKey.import_key(ec.derive_private_key(scalar, ec.SECP256R1()))


def public_jwk(key: ECKey) -> dict[str, str]:
    """The holder key's public JWK, as the node binds it (``cnf.jwk``)."""
    return {k: str(v) for k, v in key.as_dict(private=False).items()
            if k in ("kty", "crv", "x", "y")}  # fmt: skip


class CredentialPresenter:
    def __init__(
        self, presentations: PresentationService, accounts: AccountService, node: NodeClient
    ) -> None:
        self.presentations = presentations
        self.accounts = accounts
        self.node = node

    def export(self, caller: Caller, licence_id: str, fmt: str) -> str:
        """The licence the enterprise holds as a credential: a W3C VC 2.0 ``vc-jwt``, or an
        SD-JWT VC (``sd-jwt``, every disclosure included, bound to the enterprise's holder key
        where it is custodial), as its department signed it (the node exports it)."""
        if fmt not in ("vc-jwt", "sd-jwt"):
            raise InputError("format: vc-jwt or sd-jwt", field="format")
        lid = self._held(caller, licence_id)
        public = None
        account = self.accounts.signer(caller)
        if fmt == "sd-jwt" and account is not None:
            public = public_jwk(holder_key(bytes(account.key)))
        return self.node.credential(lid, fmt, public)

    def _held(self, caller: Caller, licence_id: str) -> str:
        lid = hex32(bytes.fromhex(licence_id.removeprefix("0x"))) if _hex32(licence_id) else None
        if lid is None:
            raise InputError("licenceId: a 0x-prefixed 32-byte hex licence id", field="licenceId")
        caller.require("present", lid)
        self.presentations._check_holds(caller, lid)
        return lid

    def present(
        self, caller: Caller, licence_id: str, disclose: list[str], nonce: str, audience: str
    ) -> dict[str, Any]:
        """An SD-JWT VC presentation of the licence with only ``disclose`` revealed."""
        lid = self._held(caller, licence_id)
        account = self.accounts.signer(caller)
        if account is None:
            raise ConflictError(
                "this enterprise keeps its own key: present credentials from the device holding it"
            )
        key = holder_key(bytes(account.key))
        public = public_jwk(key)
        issued = self.node.credential(lid, "sd-jwt", public)
        names = {sdjwt.decode_disclosure(d).name for d in sdjwt.parse(issued).disclosures}
        unknown = sorted(set(disclose) - names)
        if unknown:
            raise InputError(
                f"disclose: {', '.join(unknown)} are not fields of this credential "
                f"({', '.join(sorted(n for n in names if n))})",
                field="disclose",
            )
        presentation = sdjwt.present(
            issued, disclose, sdjwt.signer_of(key), nonce=nonce, aud=audience,
            iat=int(time.time()),
        )  # fmt: skip
        return {
            "presentation": presentation,
            "format": "dc+sd-jwt",
            "licenceId": lid,
            "disclosed": sorted(set(disclose)),
            "holderJwk": public,
        }


def _hex32(text: str) -> bool:
    body = text.removeprefix("0x") if isinstance(text, str) else ""
    return len(body) == 64 and all(c in "0123456789abcdefABCDEF" for c in body)
