"""`credledger vc` against a real node, and the devnet demo's credential keys (made, registered
on chain and signing at `credledger up`)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.x509.oid import NameOID

from credledger.node.core import sdjwt
from credledger.node.core.demo import DEMO_ENTERPRISE_USCC as DEMO_ENTERPRISE
from credledger.node.devnet import free_port
from tests.node.credentials.conftest import CredEnv, issue
from tests.node.licences.test_cli_and_demo import cli
from tests.support.node_process import UpProcess


def test_vc_export_and_verify_through_the_cli(cred: CredEnv, tmp_path: Path) -> None:
    lid = issue(cred)["licenceId"]
    for fmt in ("vc-jwt", "sd-jwt"):
        out = cli("vc", "export", lid, "--format", fmt, "--node", cred.node.url)
        assert out.returncode == 0, out.stderr
        path = tmp_path / f"{fmt}.txt"
        path.write_text(out.stdout, encoding="utf-8")
        checked = cli("vc", "verify", str(path), "--node", cred.node.url, "--json")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert json.loads(checked.stdout)["verdict"] == "VALID"
    path.write_text(out.stdout.replace("~", "~x", 1), encoding="utf-8")
    bad = cli("vc", "verify", str(path), "--node", cred.node.url)
    assert bad.returncode != 0
    wrong = cli("vc", "export", lid, "--format", "jsonld", "--node", cred.node.url)
    assert wrong.returncode == 2 and "vc-jwt or sd-jwt" in wrong.stderr


def test_vc_key_new_and_show(tmp_path: Path) -> None:
    env = {"CREDLEDGER_CREDENTIAL_PASSPHRASE": "cli-test-passphrase"}
    made = cli("vc", "key", "new", str(tmp_path / "k.pem"), env=env)
    assert made.returncode == 0, made.stderr
    shown = cli("vc", "key", "show", str(tmp_path / "k.pem"), env=env)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["crv"] == "P-256"
    wrong = cli("vc", "key", "show", str(tmp_path / "k.pem"),
                env={"CREDLEDGER_CREDENTIAL_PASSPHRASE": "wrong"})  # fmt: skip
    assert wrong.returncode == 2 and "wrong passphrase" in wrong.stderr
    again = cli("vc", "key", "new", str(tmp_path / "k.pem"), env=env)
    assert again.returncode == 2


def test_demo_departments_sign_credentials(tmp_path: Path) -> None:
    node = UpProcess(
        tmp_path, chain_port=free_port(), manifest=tmp_path / "manifest.json", demo=None
    )
    node.start()

    def two_licences(r: httpx.Response) -> bool:
        return r.status_code == 200 and len(r.json()["licences"]) == 2

    try:
        view = node.wait_ready(f"/v1/enterprises/{DEMO_ENTERPRISE}", two_licences).json()
        lid = view["licences"][0]["licenceId"]
        for fmt in ("vc-jwt", "sd-jwt"):
            r = httpx.get(f"{node.url}/v1/licences/{lid}/credential", params={"format": fmt})
            assert r.status_code == 200, r.text
            v = httpx.post(f"{node.url}/v1/credentials/verify", json={"credential": r.text})
            assert v.json()["verdict"] == "VALID", v.text
            # the demo department's leaf of the node's devnet issuer CA, named by display name
            (x5c,) = json.loads(sdjwt.b64url_decode(r.text.split(".")[0]))["x5c"]
            leaf = x509.load_der_x509_certificate(base64.b64decode(x5c))
            ca = httpx.get(f"{node.url}/v1/credentials/issuer-ca.pem")
            assert ca.status_code == 200 and ca.text == (
                tmp_path / "data" / "credentials" / "issuer-ca.pem").read_text()  # fmt: skip
            leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.content))
            assert leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == (
                "市场监督管理局")  # fmt: skip
        assert (tmp_path / "data" / "demo" / "credential-market.pem").is_file()
    finally:
        node.stop()


def test_vc_key_register_puts_the_key_on_chain_for_the_department(
    cred: CredEnv, tmp_path: Path
) -> None:
    env = {
        "CREDLEDGER_CREDENTIAL_PASSPHRASE": "cli-register-passphrase",
        "CREDLEDGER_MANIFEST": str(cred.manifest),
        "CREDLEDGER_DATA_DIR": str(tmp_path / "data"),
    }
    assert cli("vc", "key", "new", str(tmp_path / "k.pem"), env=env).returncode == 0
    shown = json.loads(cli("vc", "key", "show", str(tmp_path / "k.pem"), env=env).stdout)
    out = cli("vc", "key", "register", str(tmp_path / "k.pem"), "--department", "market",
              "--rpc", cred.info.rpc_url, env=env)  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    key_id = int(out.stdout.split()[2])
    key = cred.registry.department_key(key_id)
    assert key is not None and key.kind == 2 and key.department == cred.market
    assert key.public_key.hex() == shown["xy"]
