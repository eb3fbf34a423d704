"""MessageService: idempotent delivery under concurrency, with a real SQLite store and a fake Evolution."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from chalicelib import errors
from chalicelib.evolution.errors import EvolutionTimeoutError
from chalicelib.evolution.wire import SentMessage
from chalicelib.models.api import SendMessageRequest
from chalicelib.services.messages import MessageService, request_fingerprint
from chalicelib.settings import load_settings
from chalicelib.store.sqlite import SQLiteStore

BODY = {"to": "+5511999999999", "text": "Hola Ana"}


class SlowEvolution:
    """Counts sends; each takes a while, so duplicates really overlap the first one."""

    def __init__(self, delay: float, *, fail_with: Exception | None = None) -> None:
        self.delay = delay
        self.fail_with = fail_with
        self.sends = 0
        self._lock = threading.Lock()

    def send_text(self, instance: str, number: str, text: str, **_: Any) -> SentMessage:
        with self._lock:
            self.sends += 1
            n = self.sends
        time.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with
        return SentMessage(
            message_id=f"3EB0RACE{n}",
            remote_jid=f"{number}@s.whatsapp.net",
            status="PENDING",
            message_type=None,
        )


def _service(tmp_path: Path, evolution: SlowEvolution, **options: Any) -> MessageService:
    settings = load_settings(
        EVOLUTION_API_URL="http://evolution.test",
        EVOLUTION_API_KEY="k",
        INSTANCE_NAME="race",
        API_KEYS="key",
        WEBHOOK_SECRET="s" * 32,
        STORE_URL=f"sqlite:///{tmp_path}/race.db",
    )
    return MessageService(
        evolution=evolution,  # type: ignore[arg-type]
        store=SQLiteStore(str(tmp_path / "race.db")),
        settings=settings,
        **options,
    )


def _race(service: MessageService, threads: int = 8) -> list[Any]:
    barrier = threading.Barrier(threads)
    req = SendMessageRequest.model_validate(BODY)

    def one(_: int) -> Any:
        barrier.wait()
        try:
            return service.deliver(
                req,
                idempotency_key="race-key",
                fingerprint=request_fingerprint("/messages", BODY),
            )
        except errors.ServiceError as exc:
            return exc

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(threads)))


def test_eight_threads_racing_one_key_send_exactly_once_and_all_get_the_same_answer(tmp_path: Path) -> None:
    evolution = SlowEvolution(delay=0.3)
    outcomes = _race(_service(tmp_path, evolution))
    assert evolution.sends == 1
    assert all(not isinstance(o, Exception) for o in outcomes), "the losers waited for the winner's answer"
    assert len({o.body["id"] for o in outcomes}) == 1
    assert sum(1 for o in outcomes if "Idempotent-Replayed" in o.headers) == 7


def test_losers_that_wait_too_long_get_409_with_retry_after_and_nothing_is_sent_twice(
    tmp_path: Path,
) -> None:
    evolution = SlowEvolution(delay=0.5)
    outcomes = _race(_service(tmp_path, evolution, in_progress_wait_s=0.05))
    assert evolution.sends == 1
    conflicts = [o for o in outcomes if isinstance(o, errors.IdempotencyKeyInUseError)]
    assert len(conflicts) == 7
    assert all(c.retry_after and c.status == 409 for c in conflicts)


def test_a_racing_timeout_is_sent_once_and_every_request_learns_it_may_have_gone_out(tmp_path: Path) -> None:
    evolution = SlowEvolution(delay=0.2, fail_with=EvolutionTimeoutError("sendText", "slow"))
    outcomes = _race(_service(tmp_path, evolution))
    assert evolution.sends == 1
    assert {o.status for o in outcomes} == {504}
    assert len({o.body["Details"][0]["id"] for o in outcomes}) == 1
