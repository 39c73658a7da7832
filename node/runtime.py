"""The running node's parts, as types: the core every component gets, what a component adds, and
the assembled :class:`NodeRuntime`.

``node/assembly.py`` builds them (``build_runtime(settings)``): first the :class:`Core` (chain,
signer, manifest, logging, metrics, the event indexer — each built once), then each component's
builder, which receives the core (and the services it needs, by type) and returns its typed
contribution: its service, its background workers and its HTTP routers. The FastAPI app
(``node.app.create_app``) mounts the routers and starts and stops the workers in its lifespan.

This module imports no component builder and nothing from ``node.api``: the routers' helpers
(``node.api.deps``) import it, so it must stay below them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from fastapi import APIRouter

from credledger.node.anchoring.service import AnchoringService
from credledger.node.core.chain import Chain
from credledger.node.core.manifest import addresses
from credledger.node.core.tx import TxSender
from credledger.node.counter.verify import PresentationVerifier
from credledger.node.credentials.service import CredentialService
from credledger.node.indexer import Indexer
from credledger.node.licences.service import LicenceService
from credledger.node.metrics import Metrics
from credledger.node.openid4vp.service import PresentationVerifierOID4VP
from credledger.node.settings import Settings

log = logging.getLogger(__name__)


class Worker(Protocol):
    """A background component with a lifecycle (anchoring pipeline, indexer …)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True, kw_only=True)
class Contribution:
    """What one component adds to the node besides its service (subclasses name the service)."""

    workers: Sequence[Worker] = ()
    routers: Sequence[APIRouter] = ()


@dataclass(frozen=True)
class Core:
    """What every component builder receives; built once per node by the assembly."""

    settings: Settings
    chain: Chain
    sender: TxSender
    manifest: dict[str, Any]
    metrics: Metrics
    indexer: Indexer

    @property
    def contracts(self) -> dict[str, str]:
        return addresses(self.manifest)


@dataclass
class NodeRuntime:
    """The assembled node: the core, each component's service (None when it is off), and the
    workers and routers the components contributed."""

    core: Core
    anchoring: AnchoringService
    licences: LicenceService | None
    counter: PresentationVerifier | None = None
    credentials: CredentialService | None = None
    openid4vp: PresentationVerifierOID4VP | None = None
    workers: list[Worker] = field(default_factory=list)
    routers: list[APIRouter] = field(default_factory=list)
    _started: bool = field(default=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # the core's parts, for the routers and the CLI
    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def chain(self) -> Chain:
        return self.core.chain

    @property
    def sender(self) -> TxSender:
        return self.core.sender

    @property
    def manifest(self) -> dict[str, Any]:
        return self.core.manifest

    @property
    def contracts(self) -> dict[str, str]:
        return self.core.contracts

    @property
    def metrics(self) -> Metrics:
        return self.core.metrics

    @property
    def indexer(self) -> Indexer:
        return self.core.indexer

    def component_health(self) -> dict[str, dict[str, Any]]:
        """Each component's part of ``GET /health``."""
        body = {"anchoring": self.anchoring.health(), "indexer": self.indexer.health()}
        if self.licences is not None:
            body["licences"] = self.licences.health()
        return body

    def start(self) -> None:
        """Start the workers (idempotent: the app's lifespan and a caller may both call it)."""
        with self._lock:
            if self._started:
                return
            self._started = True
        for w in self.workers:
            w.start()

    def stop(self) -> None:
        with self._lock:
            if not self._started:
                return
            self._started = False
        for w in reversed(self.workers):
            try:
                w.stop()
            except Exception:
                log.exception("stopping %r failed", w)
