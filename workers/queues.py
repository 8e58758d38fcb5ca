"""Queue names and their kind (light: run in the worker's process; heavy: in a forked
work horse), declared once; everything that enqueues or listens imports them."""
from __future__ import annotations

from enum import StrEnum
from typing import Final

from flask import current_app
from redis import Redis
from rq import Queue

ROUTING: Final = "routing"
NOTIFICATIONS: Final = "notifications"
PAPERWORK: Final = "paperwork"
# Previews and clinic copies of the patients' files: before the dossiers that show them.
FILES: Final = "files"
DEFAULT: Final = "default"

# Listening order: a worker drains earlier queues first (quick decisions before slow PDFs).
ALL: Final[tuple[str, ...]] = (ROUTING, NOTIFICATIONS, FILES, PAPERWORK, DEFAULT)


class Kind(StrEnum):
    """How a queue's jobs run. Light jobs (database work, e-mail, relaying) run in the
    worker's own process: forking a work horse would cost five times the job. Heavy jobs
    (WeasyPrint, Pillow, pdftoppm, DICOM) run in a forked horse, so that a renderer that
    crashes or leaks takes only its horse with it."""

    LIGHT = "light"
    HEAVY = "heavy"


KINDS: Final[dict[str, Kind]] = {
    ROUTING: Kind.LIGHT,
    NOTIFICATIONS: Kind.LIGHT,
    FILES: Kind.HEAVY,  # previews and clinic copies: images, PDFs, DICOM
    PAPERWORK: Kind.HEAVY,  # every PDF
    DEFAULT: Kind.LIGHT,  # erasure: deletes rows and objects
}


def of_kind(kind: Kind) -> tuple[str, ...]:
    """The queues of one kind, in listening order."""
    return tuple(name for name in ALL if KINDS[name] is kind)


def forks(name: str) -> bool:
    """Whether a job from this queue runs in a forked work horse."""
    return KINDS[name] is Kind.HEAVY


def redis_connection() -> Redis:
    """A client for the configured Redis; built on demand, never at import. Short
    timeouts: a web request must not hang when Redis is down (the outbox keeps the work)."""
    connections: dict[str, Redis] = current_app.extensions.setdefault("redis", {})
    url = current_app.config["REDIS_URL"]
    if url not in connections:
        connections[url] = Redis.from_url(url, socket_connect_timeout=1, socket_timeout=5)
    return connections[url]


def get_queue(name: str = DEFAULT) -> Queue:
    if name not in ALL:
        raise ValueError(f"unknown queue {name!r}; declared queues: {', '.join(ALL)}")
    return Queue(name, connection=redis_connection())
