"""Assembles a running node from its settings: chain, signer, manifest, services, HTTP app.

This is the one place where components are wired together. Each component receives its own
settings section through its constructor; the FastAPI app is built by ``node.api.app.create_app``
from the :class:`NodeRuntime` and never reads settings itself. Background workers (the anchoring
pipeline, the indexer) register here with ``start``/``stop``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from credledger.node.anchoring.component import component as anchoring_component
from credledger.node.chain import Chain
from credledger.node.counter.component import component as counter_component
from credledger.node.deploy import addresses, check_manifest_chain, load_manifest
from credledger.node.licences.component import component as licences_component
from credledger.node.settings import Settings
from credledger.node.signer import resolve_account
from credledger.node.tx import TxSender

log = logging.getLogger(__name__)


class Worker(Protocol):
    """A background component with a lifecycle (anchoring pipeline, indexer …)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class NodeRuntime:
    settings: Settings
    chain: Chain
    sender: TxSender
    manifest: dict[str, Any]
    workers: list[Worker] = field(default_factory=list)
    # services by name, added by the components that exist (anchoring, licences …)
    services: dict[str, Any] = field(default_factory=dict)

    @property
    def contracts(self) -> dict[str, str]:
        return addresses(self.manifest)

    @classmethod
    def from_settings(cls, settings: Settings) -> NodeRuntime:
        chain = Chain(settings.chain.rpc_urls, settings.chain.request_timeout)
        account = resolve_account(
            settings.signer.keystore, settings.signer.password_file, settings.signer.dev_account
        )
        manifest_path = settings.manifest_path(chain.chain_id)
        manifest = load_manifest(manifest_path)
        check_manifest_chain(manifest, chain, manifest_path)
        runtime = cls(settings, chain, TxSender(chain, account), manifest)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        for build in COMPONENTS:
            build(runtime)
        return runtime

    def start(self) -> None:
        for w in self.workers:
            w.start()

    def stop(self) -> None:
        for w in reversed(self.workers):
            try:
                w.stop()
            except Exception:
                log.exception("stopping %r failed", w)


class ComponentBuilder(Protocol):
    def __call__(self, runtime: NodeRuntime) -> None: ...


# Component builders, called in order by NodeRuntime.from_settings. Each adds its services and
# workers to the runtime (e.g. anchoring adds services["anchoring"] and its batcher worker).
COMPONENTS: list[ComponentBuilder] = [anchoring_component, licences_component, counter_component]
