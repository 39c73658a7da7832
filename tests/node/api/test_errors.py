"""Every error is JSON with a stable code; the OpenAPI and /docs a user can try everything from."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from credledger.node.app import create_app
from credledger.node.assembly import build_runtime
from credledger.node.settings import load_settings
from tests.node.api.conftest import ENTERPRISE, TOKENS, HChain
from tests.node.licences.harness import Node

pytestmark = pytest.mark.chain


def issue(**extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "type": "FOOD-OPERATION",
        "serialNumber": "E-1",
        "holderUscc": ENTERPRISE,
        "documentHash": "0x" + "ab" * 32,
        "validFrom": "2024-01-01",
        "validUntil": "2036-12-31",
    }
    body.update(extra)
    return body


def _nest(depth: int) -> object:
    out: object = 1
    for _ in range(depth):
        out = [out]
    return out


def test_lone_surrogates_are_a_422(hnode: Node) -> None:
    tok = {"Authorization": f"Bearer {TOKENS['market']}", "content-type": "application/json"}
    for field in ("serialNumber", "type", "holderUscc", "validFrom"):
        raw = (
            '{"type": "FOOD-OPERATION", "serialNumber": "S-\\ud800", '
            f'"holderUscc": "{ENTERPRISE}", "documentHash": "0x{"ab" * 32}", '
            '"validFrom": "2024-01-01"}'
        ).replace(f'"{field}": "', f'"{field}": "\\udfff', 1)
        problem(hnode.post("/v1/licences", content=raw.encode(), headers=tok), 422)


def problem(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text[:400]
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body: dict[str, object] = r.json()
    assert isinstance(body["error"], str) and isinstance(body["message"], str)
    assert "detail" not in body
    return body


@pytest.mark.parametrize(
    "bad",
    [
        {"validFrom": "9" * 5000},  # int conversion limit
        {"validUntil": "9" * 5000},
        {"validFrom": True},  # a bool is not a time
        {"validFrom": 10**30},
        {"type": "食品经营"},  # non-ASCII type code
        {"type": "FOOD-OPERATIÖN"},
        {"metadata": {"a": [[[[[[[[1]]]]]]]]}, "serialNumber": "I-am-deep"},
        {"holderUscc": "913100"},
    ],
)
def test_bad_issuance_input_is_a_json_422(hnode: Node, bad: dict[str, object]) -> None:
    if "metadata" in bad:
        bad["metadata"] = {"a": _nest(40)}
    problem(hnode.post("/v1/licences", TOKENS["market"], json=issue(**bad)), 422)
    problem(
        hnode.post("/v1/licences:batch", TOKENS["market"], json={"licences": [issue(**bad)]}), 422
    )


def test_a_422_names_the_field_as_sent(hnode: Node) -> None:
    body = problem(hnode.post("/v1/licences", TOKENS["market"], json=issue(holderUscc="9131")), 422)
    assert str(body["message"]).startswith("holderUscc:")
    assert body["details"]["field"] == "holderUscc"  # type: ignore[index]
    body = problem(hnode.post("/v1/licences", TOKENS["market"], json=issue(validFrom=True)), 422)
    assert "validFrom" in str(body["message"])


def test_non_ascii_codes_on_the_type_routes(hnode: Node) -> None:
    r = hnode.post(
        "/v1/licence-types/食品/authorisations",
        TOKENS["admin"],
        json={"department": "market", "roles": ["issuer"]},
    )
    problem(r, 422)
    r = hnode.post(
        "/v1/licence-types",
        TOKENS["admin"],
        json={"code": "FÖÖ", "category": "FOOD", "zh": "x", "en": "x"},
    )
    problem(r, 422)


def test_parser_and_routing_errors_are_json(hnode: Node) -> None:
    tok = {"Authorization": f"Bearer {TOKENS['market']}"}
    broken = b"--b\r\nContent-Disposition: form-data; name=\r\n\r\nx\r\n--b--\r\n"
    for ctype in ("multipart/form-data; boundary=b", "multipart/form-data"):
        r = hnode.post("/v1/licences", content=broken, headers={**tok, "content-type": ctype})
        assert 400 <= r.status_code < 500
        problem(r, r.status_code)
    problem(hnode.get("/no/such/path"), 404)
    problem(hnode.request("DELETE", "/v1/licence-types"), 405)
    problem(
        hnode.post(
            "/v1/verify/document", content=b"\xff\xfe", headers={"content-type": "application/json"}
        ),
        422,
    )
    problem(hnode.post("/v1/verify/document", json=[1, 2]), 422)


@pytest.fixture
def app_client(hchain: HChain, tmp_path: Path) -> Iterator[TestClient]:
    """The node's real app in this process (so a route that fails can be added to it)."""
    settings = load_settings(
        chain={"rpc_urls": [hchain.info.rpc_url]},
        manifest=hchain.manifest,
        data_dir=tmp_path / "data",
    )
    runtime = build_runtime(settings)
    app = create_app(runtime)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("forced failure for the test")

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_unexpected_errors_are_a_500_with_an_error_id_in_the_log(
    app_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="credledger.node.api"):
        r = app_client.get("/boom")
    body = problem(r, 500)
    assert body["error"] == "internal_error"
    error_id = str(body["errorId"])
    assert re.fullmatch(r"[0-9a-f]{16}", error_id)
    assert error_id in str(body["message"])
    logged = [rec for rec in caplog.records if getattr(rec, "errorId", None) == error_id]
    assert logged and logged[0].exc_info is not None
    assert "forced failure" not in r.text  # the cause stays in the log


def test_openapi_declares_every_body_and_one_route_per_action(hnode: Node) -> None:
    spec = hnode.get("/openapi.json").json()
    paths = spec["paths"]
    assert not [p for p in paths if "{action}" in p]
    for action in ("suspend", "reinstate", "revoke", "amend", "bind-holder"):
        assert "post" in paths[f"/v1/licences/{{licence_id}}/{action}"]
    # retire takes no body by design
    undeclared = {"/v1/department-keys/{key}/retire"}
    for path, ops in paths.items():
        post = ops.get("post")
        if post is None or path in undeclared:
            continue
        content = post["requestBody"]["content"]
        assert "application/json" in content, path
        assert content["application/json"]["schema"].get("properties"), path
        for code in ("401", "422", "429"):
            assert code in post["responses"], (path, code)
    files = {
        "/v1/licences": "document",
        "/v1/verify/document": "document",
        "/v1/licences/{licence_id}/amend": "document",
        "/v1/enterprises/{uscc}/supervision": "document",
        "/v1/verify/presentation": "document",
    }
    for path, field in files.items():
        form = paths[path]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
        assert form["properties"][field]["format"] == "binary"
    anchors = paths["/v1/anchors"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert anchors["schema"]["properties"]["file"]["items"]["format"] == "binary"
    assert "bearer" in str(spec["components"]["securitySchemes"]).lower()


def test_docs_load_only_local_assets(hnode: Node) -> None:
    page = hnode.get("/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    urls += re.findall(r"""url: ?["']([^"']+)["']""", page.text)
    assert urls, page.text
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        r = hnode.get(url)
        assert r.status_code == 200, url
    assert "https://" not in page.text and "http://" not in page.text
    bundle = hnode.get("/docs-assets/swagger-ui-bundle.js")
    assert len(bundle.content) > 500_000  # the real Swagger UI, not a stub
