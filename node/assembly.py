"""Builds a running node from its settings: the core once, then each component in order.

Read top to bottom, this is the whole composition of the node: which parts exist, what each
receives, what each adds. Components get their dependencies as typed constructor arguments;
none looks another up by name.
"""

from __future__ import annotations

from credledger.node.components import (
    anchoring,
    counter,
    credentials,
    licences,
    openid4vp,
    status,
)
from credledger.node.core.chain import Chain
from credledger.node.core.logs import configure_json_logs
from credledger.node.core.manifest import addresses, check_manifest_chain, load_manifest
from credledger.node.core.signer import resolve_account
from credledger.node.core.tx import TxSender
from credledger.node.indexer import Indexer
from credledger.node.metrics import Metrics
from credledger.node.runtime import Core, NodeRuntime
from credledger.node.settings import Settings


def build_core(settings: Settings) -> Core:
    """Chain, signer, manifest, logging, metrics and the event indexer — each built once."""
    configure_json_logs(settings.log_level)
    chain = Chain(settings.chain.rpc_urls, settings.chain.request_timeout)
    account = resolve_account(
        settings.signer.keystore, settings.signer.password_file, settings.signer.dev_account
    )
    manifest_path = settings.manifest_path(chain.chain_id)
    manifest = load_manifest(manifest_path)
    check_manifest_chain(manifest, chain, manifest_path)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    metrics = Metrics()
    indexer = Indexer(
        chain,
        addresses(manifest),
        int(manifest.get("startBlock", 0)),
        settings.data_dir / "indexer.sqlite3",
        settings.indexer,
        metrics,
    )
    return Core(settings, chain, TxSender(chain, account), manifest, metrics, indexer)


def build_runtime(settings: Settings) -> NodeRuntime:
    """The whole node; its workers start with the HTTP app's lifespan (or ``runtime.start()``)."""
    core = build_core(settings)
    anchors = anchoring.build(core)
    licence = licences.build(core, anchoring=anchors.service)
    desk = counter.build(core, licences=licence.service, anchoring=anchors.service)
    # status lists per issuer (issue 21), which exported credentials point into; the lists are
    # signed with the credential keys that the credentials component loads
    lists = status.build(core)
    creds = credentials.build(core, licences=licence.service, status=lists.service)
    if creds.service is not None:
        lists.documents.keys = creds.service.keys.of
        lists.documents.base_url = creds.service.base_url
    wallets = openid4vp.build(
        core, licences=licence.service, credentials=creds.service, counter=desk.service
    )
    return NodeRuntime(
        core,
        anchoring=anchors.service,
        licences=licence.service,
        counter=desk.service,
        credentials=creds.service,
        openid4vp=wallets.service,
        workers=[*anchors.workers, core.indexer, *licence.workers, *desk.workers],
        # the read path first: a request is matched against the routes in order
        routers=[
            *licence.routers,
            *desk.routers,
            *anchors.routers,
            *lists.routers,
            *creds.routers,
            *wallets.routers,
        ],
    )
