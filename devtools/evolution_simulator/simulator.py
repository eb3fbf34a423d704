"""Wiring: builds every part from a SimConfig, and starts and stops the server and its threads."""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from types import TracebackType

from devtools.evolution_simulator.api import EvolutionApi
from devtools.evolution_simulator.config import LOCAL_SCHEMAS, SimConfig
from devtools.evolution_simulator.control import ControlApi
from devtools.evolution_simulator.events import Emitter
from devtools.evolution_simulator.faults import FaultBook
from devtools.evolution_simulator.inbound_media import MediaApi, MediaLibrary
from devtools.evolution_simulator.messaging import Messaging
from devtools.evolution_simulator.scheduler import Scheduler
from devtools.evolution_simulator.server import Router, SimHTTPServer
from devtools.evolution_simulator.session import Sessions
from devtools.evolution_simulator.state import Registry
from devtools.evolution_simulator.validation import SchemaRegistry
from devtools.evolution_simulator.webhooks import WebhookDispatcher

logger = logging.getLogger(__name__)


class Simulator:
    """One simulator process-in-a-box. Binds on construction; ``start()`` begins serving.

    Use as a context manager, or ``start()`` / ``stop()``; ``port`` is the bound port
    (useful with ``port=0``) and ``url`` the base URL."""

    def __init__(self, config: SimConfig) -> None:
        self._http = SimHTTPServer(config.host, config.port)
        self.port = self._http.bound_port
        self.config = replace(config, server_url=config.public_url(self.port))
        self.url = f"http://{config.host}:{self.port}"
        self._stopping = threading.Event()
        self.registry = Registry()
        self.scheduler = Scheduler()
        self.dispatcher = WebhookDispatcher(self.config, stopping=self._stopping)
        self.emitter = Emitter(self.config, self.dispatcher)
        schemas = SchemaRegistry(self.config.schemas_dir, LOCAL_SCHEMAS)
        sessions = Sessions(self.config, self.registry, self.emitter, self.scheduler)
        messaging = Messaging(
            config=self.config,
            registry=self.registry,
            emitter=self.emitter,
            scheduler=self.scheduler,
            schemas=schemas,
            stopping=self._stopping,
        )
        api = EvolutionApi(
            config=self.config,
            registry=self.registry,
            sessions=sessions,
            messaging=messaging,
            schemas=schemas,
            scheduler=self.scheduler,
            stopping=self._stopping,
        )
        self.faults = FaultBook()
        control = ControlApi(
            registry=self.registry,
            sessions=sessions,
            emitter=self.emitter,
            faults=self.faults,
            dispatcher=self.dispatcher,
            scheduler=self.scheduler,
        )
        self.media = MediaApi(api=api, control=control, library=MediaLibrary())
        router = Router(
            api=api,
            control=control,
            faults=self.faults,
            registry=self.registry,
            stopping=self._stopping,
            media=self.media,
        )
        self._http.attach(router)
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, name="sim-http"
        )
        self._thread.daemon = True

    def start(self) -> Simulator:
        self.scheduler.start()
        self._thread.start()
        logger.info("Evolution API simulator listening on %s", self.url)
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.scheduler.stop()
        self.dispatcher.shutdown()
        if self._thread.is_alive():
            self._http.shutdown()
            self._thread.join(timeout=5)
        self._http.server_close()

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted (used by the CLI)."""
        self.scheduler.start()
        logger.info("Evolution API simulator listening on %s", self.url)
        try:
            self._http.serve_forever(poll_interval=0.2)
        finally:
            self._stopping.set()
            self.scheduler.stop()
            self.dispatcher.shutdown()
            self._http.server_close()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
