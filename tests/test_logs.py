"""Logging: chalicelib's module loggers write JSON lines through the service logger; phones masked."""

from __future__ import annotations

import json
import logging

import pytest

from chalicelib.logs import get_logger, mask_phone


def test_module_loggers_share_the_service_loggers_json_handler_and_level() -> None:
    service = get_logger()
    library = logging.getLogger("chalicelib")
    assert service.registered_handler in library.handlers
    assert library.level == service.log_level
    assert library.propagate is False, "no second, plain copy through the root logger"


def test_a_module_log_line_is_json_with_its_extra_fields() -> None:
    service = get_logger()
    record = logging.getLogger("chalicelib.services.example").makeRecord(
        "chalicelib.services.example",
        logging.INFO,
        __file__,
        1,
        "something happened",
        (),
        None,
        extra={"instance": "acme"},
    )
    line = json.loads(service.registered_formatter.format(record))
    assert line["message"] == "something happened"
    assert line["level"] == "INFO"
    assert line["instance"] == "acme"
    assert line["service"] == "whatsapp-evolution"


def test_an_unknown_log_level_does_not_break_the_logger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    get_logger.cache_clear()
    try:
        assert get_logger().log_level in (logging.DEBUG, logging.INFO)  # no ValueError, a real level
    finally:
        monkeypatch.delenv("LOG_LEVEL")
        get_logger.cache_clear()


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+5511999999999", "+55119******99"),
        ("to 5511999999999 now", "to 55119******99 now"),
        ("123", "123"),
        (None, None),
    ],
)
def test_phone_numbers_are_masked(raw: str | None, masked: str | None) -> None:
    assert mask_phone(raw) == masked
