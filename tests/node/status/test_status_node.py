"""Status lists on a real node over a real chain (issue 21 item 2): issue, suspend, reinstate and
revoke through the API; the served lists show each change in the very block the node indexed it,
their signatures verify against the department's P-256 key as registered on chain, the caching
headers hold, and an independent reader from npm (@digitalbazaar/vc-bitstring-status-list) reads
the right bit for a suspended and a revoked licence.

The status index of each licence is computed here from the chain alone (a fresh indexer of this
process and :class:`StatusLists`), not asked of the node: any node gets the same entry."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from credledger.node.core.manifest import addresses, load_manifest
from credledger.node.core.signer import dev_account
from credledger.node.credentials.ids import issuer_urn
from credledger.node.credentials.keys import jwk_of_raw
from credledger.node.indexer import Indexer
from credledger.node.settings import IndexerSettings
from credledger.node.status import PURPOSES, StatusEntry, StatusLists
from credledger.node.status.encoding import (
    INVALID,
    SUSPENDED,
    VALID,
    bit,
    decode_bitstring,
    decode_token_list,
    token_status,
    unb64url,
)
from tests.conftest import ROOT
from tests.node.licences.conftest import TOKENS, LicenceChain, issue_body
from tests.node.status.conftest import StatusNode

MODULES = ROOT / "hardhat-free-devnet" / "node_modules"
READER = Path(__file__).with_name("read_status_list.mjs")


def entries_from_chain(lchain: LicenceChain, tmp: Path, ids: list[str], height: int) -> list[Any]:
    """Each licence's StatusEntry as a fresh indexer of the chain alone computes it."""
    manifest = load_manifest(lchain.manifest)
    indexer = Indexer(
        lchain.chain,
        addresses(manifest),
        int(manifest.get("startBlock", 0)),
        tmp / "indexer.sqlite3",
        IndexerSettings(),
    )
    try:
        lists = StatusLists.following(indexer)
        while indexer.indexed_height < height:
            indexer.poll()
        return [lists.entry_for(bytes.fromhex(i[2:])) for i in ids]
    finally:
        indexer.close()


def verified_payload(jwt: str, public_raw: bytes, typ: str) -> dict[str, Any]:
    h, p, s = jwt.split(".")
    header = json.loads(unb64url(h))
    assert header["alg"] == "ES256" and header["typ"] == typ
    sig = unb64url(s)
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + public_raw)
    key.verify(der, f"{h}.{p}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if it is not ours
    payload: dict[str, Any] = json.loads(unb64url(p))
    return payload


class Lists:
    """The served lists of one issuer's list, read and checked."""

    def __init__(self, sn: StatusNode, entry: StatusEntry) -> None:
        self.sn, self.entry = sn, entry

    def get(self, kind: str, **headers: str) -> httpx.Response:
        path = f"/v1/status-lists/{self.entry.issuer}/{self.entry.list_id}/{kind}"
        return self.sn.node.get(path, headers=headers)

    def bits(self, entries: list[StatusEntry], at_least: int) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for purpose in ("revocation", "suspension"):
            r = self.get(purpose)
            assert r.status_code == 200, r.text
            assert r.headers["content-type"].startswith("application/vc+jwt")
            assert int(r.headers["credledger-block"]) >= at_least
            vc = verified_payload(r.text, self.sn.public_raw, "vc+jwt")
            assert vc["chainState"]["blockNumber"] == int(r.headers["credledger-block"])
            raw = decode_bitstring(vc["credentialSubject"]["encodedList"])
            out[purpose] = [bit(raw, e.index) for e in entries]
        r = self.get("token")
        assert r.status_code == 200 and int(r.headers["credledger-block"]) >= at_least
        token = verified_payload(r.text, self.sn.public_raw, "statuslist+jwt")
        assert token["status_list"]["bits"] == 2
        raw = decode_token_list(token["status_list"]["lst"])
        out["token"] = [token_status(raw, e.index) for e in entries]
        return out


def test_lists_follow_suspension_reinstatement_and_revocation(
    status_node: StatusNode, lchain: LicenceChain, tmp_path: Path
) -> None:
    node = status_node.node
    market = TOKENS["market"]
    issued = [node.ok(node.post("/v1/licences", market, json=issue_body()), 201) for _ in range(3)]
    ids = [i["licenceId"] for i in issued]
    last = max(i["blockNumber"] for i in issued)
    entries = entries_from_chain(lchain, tmp_path, ids, last)
    assert {(e.issuer.lower(), e.list_id) for e in entries} == {(status_node.department.lower(), 0)}
    assert len({e.index for e in entries}) == 3
    lists = Lists(status_node, entries[0])
    node.wait_indexed(last)
    assert lists.bits(entries, last) == {
        "revocation": [0, 0, 0],
        "suspension": [0, 0, 0],
        "token": [VALID] * 3,
    }

    # suspend #1: its suspension bit is set in the lists as of the block the node indexed it
    s = node.ok(node.post(f"/v1/licences/{ids[1]}/suspend", market, json={"reasonCode": 1}))
    node.wait_indexed(s["blockNumber"])
    assert lists.bits(entries, s["blockNumber"]) == {
        "revocation": [0, 0, 0],
        "suspension": [0, 1, 0],
        "token": [VALID, SUSPENDED, VALID],
    }
    # caching: the same block answers 304 to its ETag; the headers say for how long to keep it
    first = lists.get("suspension")
    assert first.headers["cache-control"] == "public, max-age=10"
    again = lists.get("suspension", **{"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert lists.get("suspension", **{"If-None-Match": '"0.0"'}).status_code == 200

    # revoke #2 -> its revocation bit; reinstate #1 -> its suspension bit is cleared
    r = node.ok(node.post(f"/v1/licences/{ids[2]}/revoke", market, json={"reasonCode": 4}))
    back = node.ok(node.post(f"/v1/licences/{ids[1]}/reinstate", market, json={}))
    height = max(r["blockNumber"], back["blockNumber"])
    node.wait_indexed(height)
    assert lists.bits(entries, height) == {
        "revocation": [0, 0, 1],
        "suspension": [0, 0, 0],
        "token": [VALID, VALID, INVALID],
    }


def test_bad_requests_get_json_errors(status_node: StatusNode) -> None:
    node = status_node.node
    dept = status_node.department
    bad = node.get("/v1/status-lists/0x1234/0/revocation")
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_input"
    assert node.get(f"/v1/status-lists/{dept}/0/message").status_code == 422
    assert node.get(f"/v1/status-lists/{dept}/-1/revocation").status_code == 422
    unknown = node.get(f"/v1/status-lists/{dept}/7/revocation")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
    # a department this node holds no credential key of (the drug administration's address)
    other = node.get(f"/v1/status-lists/{dev_account(2).address}/0/token")
    assert other.status_code == 404 and other.json()["error"] == "no_credential_key"


def sd_jwt(node: Any, licence_id: str) -> str:
    r = node.get(f"/v1/licences/{licence_id}/credential", params={"format": "sd-jwt"})
    assert r.status_code == 200, r.text
    return str(r.text)


def test_an_npm_reader_reads_the_bits_of_a_suspended_and_a_revoked_licence(
    status_node: StatusNode, lchain: LicenceChain, tmp_path: Path
) -> None:
    if shutil.which("node") is None or not (MODULES / "@digitalbazaar").is_dir():
        pytest.fail("node and hardhat-free-devnet/node_modules are needed (make setup)")
    node = status_node.node
    market = TOKENS["market"]
    ids = [
        node.ok(node.post("/v1/licences", market, json=issue_body()), 201)["licenceId"]
        for _ in range(3)
    ]
    node.ok(node.post(f"/v1/licences/{ids[1]}/suspend", market, json={"reasonCode": 1}))
    done = node.ok(node.post(f"/v1/licences/{ids[2]}/revoke", market, json={"reasonCode": 4}))
    node.wait_indexed(done["blockNumber"])
    entries = entries_from_chain(lchain, tmp_path, ids, done["blockNumber"])
    registry = lchain.contracts["LicenceRegistry"]
    issuer = issuer_urn(int(lchain.chain.chain_id), registry, status_node.department)

    def exported(licence_id: str, entry: StatusEntry) -> dict[str, Any]:
        """The licence as the node exports it (vc+jwt, issue 21 item 1): its credentialStatus
        points at the entry any node computes from the chain."""
        r = node.get(f"/v1/licences/{licence_id}/credential", params={"format": "vc-jwt"})
        vc = verified_payload(r.text, status_node.public_raw, "vc+jwt")
        assert vc["issuer"]["id"] == issuer  # the lists name the same issuer (npm checks it)
        assert sorted(
            (s["statusPurpose"], s["statusListIndex"], s["statusListCredential"])
            for s in vc["credentialStatus"]
        ) == [(p, str(entry.index), entry.bitstring_url(node.url, p)) for p in PURPOSES]
        return vc

    names = ("active", "suspended", "revoked")
    job = tmp_path / "input.json"
    job.write_text(
        json.dumps(
            {
                "jwk": jwk_of_raw(status_node.public_raw),
                "credentials": {
                    n: exported(i, e) for n, i, e in zip(names, ids, entries, strict=True)
                },
                "sdjwts": {n: sd_jwt(node, i) for n, i in zip(names, ids, strict=True)},
            }
        )
    )
    run = subprocess.run(
        ["node", str(READER), str(MODULES), str(job)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["active"] == {"verified": True, "revocation": False, "suspension": False}
    assert out["suspended"] == {"verified": True, "revocation": False, "suspension": True}
    assert out["revoked"] == {"verified": True, "revocation": True, "suspension": False}
    assert set(out["_lists"].values()) == {1_048_576}  # the library decoded whole lists
    # the IETF Token Status List through the SD-JWT VCs' status claims (@sd-jwt/jwt-status-list)
    assert out["_tokens"] == {
        n: {"idx": e.index, "status": v, "bits": 2}
        for n, e, v in zip(names, entries, (VALID, SUSPENDED, INVALID), strict=True)
    }
