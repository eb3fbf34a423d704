"""Structured JSON logging: one Powertools logger, the current request id, phone masking."""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger

SERVICE_NAME = "whatsapp-evolution"
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

_PHONE = re.compile(r"\+?\d[\d\s().-]{6,}\d")


@cache
def get_logger() -> Logger:
    """The process-wide JSON logger (level from ``LOG_LEVEL``), created on first use."""
    from aws_lambda_powertools import Logger  # noqa: PLC0415 - keep cold import small

    try:
        logger = Logger(service=SERVICE_NAME)
    except ValueError:  # an unknown LOG_LEVEL: the settings check refuses requests and names it
        logger = Logger(service=SERVICE_NAME, level="INFO")
    # Every chalicelib module logs with logging.getLogger(__name__): give that whole tree the same
    # JSON handler and level, so its lines (with their ``extra`` fields) are not dropped by the
    # Lambda runtime's WARNING-level root logger nor printed twice.
    library = logging.getLogger("chalicelib")
    library.handlers = [logger.registered_handler]
    library.setLevel(logger.log_level)
    library.propagate = False
    return logger


def mask_phone(value: str | None) -> str | None:
    """``+5511999999999`` → ``+55119*****99``: enough to tell numbers apart, not to dial them."""
    if value is None:
        return None

    def _mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        if len(digits) <= 6:
            return "*" * len(digits)
        prefix = "+" if match.group(0).startswith("+") else ""
        return prefix + digits[:5] + "*" * (len(digits) - 7) + digits[-2:]

    return _PHONE.sub(_mask, value)
