"""Handlers by job kind, and what a handler may answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.jobs.envelope import Job


@dataclass(frozen=True)
class Done:
    """The job is finished (also when there was nothing left to do: handlers are idempotent)."""


@dataclass(frozen=True)
class RunAgain:
    """Run the job again, as attempt ``attempt + 1``, no earlier than ``at`` (epoch seconds)."""

    at: float


Outcome = Done | RunAgain
Handler = Callable[[Job], Outcome]
DONE = Done()


class UnknownJobKindError(LookupError):
    """No handler is registered for a job's kind."""


class Registry:
    """Job kind → handler. A handler that raises has its job retried by the transport (with
    backoff), and dead-lettered after the transport's limit."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, kind: str, handler: Handler) -> None:
        if kind in self._handlers:
            raise ValueError(f"a handler for {kind!r} is already registered")
        Job(kind=kind)  # validates the kind's spelling
        self._handlers[kind] = handler

    def handler(self, kind: str) -> Handler:
        try:
            return self._handlers[kind]
        except KeyError:
            raise UnknownJobKindError(f"no handler for job kind {kind!r}") from None

    def kinds(self) -> list[str]:
        return sorted(self._handlers)
