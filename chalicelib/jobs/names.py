"""The names of a stage's job queues (provisioning, the merge template and app.py agree on them)."""

from __future__ import annotations

APP_NAME = "whatsapp-evolution"


def jobs_queue_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}-jobs"


def dead_letter_queue_name(stage: str) -> str:
    return f"{APP_NAME}-{stage}-jobs-dlq"
