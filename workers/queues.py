"""Queue names, declared once; everything that enqueues or listens imports them."""
from __future__ import annotations

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
