"""A licence's e-seal: what an outsider needs to check it with OpenSSL alone
(docs/standards.md "E-seals")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from credledger.node.api.deps import licences_of, runtime_of
from credledger.node.api.routes._bodies import READ_ERRORS
from credledger.node.api.security import GuardedRoute

router = APIRouter(tags=["licences"], route_class=GuardedRoute)


@router.get("/v1/licences/{licence_id}/seal", responses=READ_ERRORS)
async def licence_seal(licence_id: str, request: Request) -> dict[str, Any]:
    """The seal of the licence's current version: ``algorithm`` (SM2-with-SM3), ``signedData``
    (base64 of the canonical GB/T 36903 metadata; null for a person's licence, whose metadata the
    holder presents), ``signature`` (base64 DER), ``publicKeyPem``, ``distId``, ``key`` (the
    department key's on-chain record), ``transactionHash``, ``blockNumber`` and this node's
    ``check``. 404 ``not_sealed`` for a licence without a seal."""
    service = licences_of(runtime_of(request))
    # a licence id or a GB/T 36904 identifier (checked against the licence)
    lid = await run_in_threadpool(service.licence_id, licence_id)
    ctx = service.ctx
    if ctx.model.height < ctx.last_write_block:  # read-your-writes: this node's last write
        await run_in_threadpool(ctx.own_writes_indexed)
    if ctx.model.licence(lid) is None:  # perhaps in a block not indexed yet
        await run_in_threadpool(ctx.catch_up)
    return service.verifier.seals.seal_json(lid)
