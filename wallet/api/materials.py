"""The materials bank: file, list, receipt, confirm, download, delete the file."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Header, Response, UploadFile
from fastapi.responses import JSONResponse

from credledger.node.core.errors import ForbiddenError, UnauthorizedError
from credledger.node.core.http.limits import BoundedJsonRoute
from credledger.wallet import folders
from credledger.wallet.api.deps import ERRORS, CurrentCaller, Runtime
from credledger.wallet.materials import Filer

router = APIRouter(tags=["materials"], route_class=BoundedJsonRoute, responses=ERRORS)


def _read(upload: UploadFile, runtime: Runtime) -> bytes:
    limit = runtime.materials.settings.max_bytes
    if upload.size is not None:
        runtime.materials.check_size(upload.size)
    data = upload.file.read(limit + 1)
    runtime.materials.check_size(len(data))
    return data


def _answer(body: dict[str, Any], created: bool) -> JSONResponse:
    return JSONResponse(status_code=201 if created else 200, content=body)


@router.post("/v1/materials", status_code=201)
def file_material(
    caller: CurrentCaller,
    runtime: Runtime,
    file: Annotated[UploadFile, File()],
    folder: Annotated[str | None, Form(max_length=64)] = None,
) -> JSONResponse:
    """File a material (201; the same bytes again: the same material, 200)."""
    caller.require("file")
    data = _read(file, runtime)
    enterprise = runtime.accounts.enterprise_row(caller.enterprise_id)
    body, created = runtime.materials.file(
        enterprise, Filer("person", caller.label), file.filename or "", data, folder,
        file.content_type,
    )  # fmt: skip
    return _answer(body, created)


@router.post("/v1/clerk/materials", status_code=201)
def clerk_file_material(
    runtime: Runtime,
    file: Annotated[UploadFile, File()],
    uscc: Annotated[str, Form(max_length=64)],
    folder: Annotated[str | None, Form(max_length=64)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """A counter clerk files a material for an enterprise; it awaits the enterprise's OK."""
    if not authorization:
        raise UnauthorizedError("a clerk token is needed: 'Authorization: Bearer <token>'")
    clerk = runtime.clerk(authorization)
    if clerk is None:
        raise ForbiddenError("this token is not a clerk the wallet trusts")
    data = _read(file, runtime)
    enterprise = runtime.accounts.enterprise_by_uscc(uscc)
    body, created = runtime.materials.file(
        enterprise, Filer("clerk", clerk.display_name or clerk.name), file.filename or "", data,
        folder, file.content_type,
    )  # fmt: skip
    return _answer(body, created)


@router.get("/v1/materials")
def list_materials(
    caller: CurrentCaller, runtime: Runtime, folder: str | None = None
) -> dict[str, Any]:
    return {"materials": runtime.materials.list(caller, folder)}


@router.get("/v1/materials/{material_id}")
def get_material(material_id: str, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    return runtime.materials.get(caller, material_id)


@router.get("/v1/materials/{material_id}/receipt")
def material_receipt(material_id: str, caller: CurrentCaller, runtime: Runtime) -> JSONResponse:
    """The anchoring receipt; check it with `credledger verify <assetId> --receipt … --rpc …`."""
    body = runtime.materials.receipt(caller, material_id)
    return JSONResponse(
        body,
        headers={
            "Content-Disposition": f'attachment; filename="{body["material"]["assetId"][2:14]}'
            '.receipt.json"'
        },
    )


@router.post("/v1/materials/{material_id}/confirm")
def confirm_material(material_id: str, caller: CurrentCaller, runtime: Runtime) -> dict[str, Any]:
    """Confirm an anchored material: it becomes trusted (409 while still pending)."""
    return runtime.materials.confirm(caller, material_id)


@router.get("/v1/materials/{material_id}/file")
def download_material(material_id: str, caller: CurrentCaller, runtime: Runtime) -> Response:
    row, content = runtime.materials.read_file(caller, material_id)
    return Response(
        content,
        media_type=row["content_type"],
        headers={"Content-Disposition": content_disposition(row["name"])},
    )


@router.delete("/v1/materials/{material_id}/file")
def delete_material_file(
    material_id: str, caller: CurrentCaller, runtime: Runtime
) -> dict[str, Any]:
    """Delete the stored file; the material, its anchor and receipt stay."""
    return runtime.materials.delete_file(caller, material_id)


@router.get("/v1/folders")
def folder_table() -> dict[str, Any]:
    return {
        "folders": [
            {"code": f.code, "zh": f.zh, "en": f.en, "keywords": list(f.keywords)}
            for f in folders.FOLDERS
        ]
    }


@router.get("/v1/folders/suggest")
def suggest_folder(name: str) -> dict[str, str]:
    return folders.folder_json(folders.suggest(name[:300]).code)


def content_disposition(name: str) -> str:
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
