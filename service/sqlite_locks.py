"""When a transaction takes SQLite's write lock.

SQLite has one writer at a time. A deferred transaction that has read and then writes
asks for the write lock while it holds a read snapshot; SQLite cannot let it wait (the
snapshot would be stale once the other writer commits), so it answers "database is
locked" at once, busy timeout or not. Under concurrent form submissions most POSTs
failed that way. So on SQLite a transaction that may write begins IMMEDIATE: it takes
the write lock first, waits up to the busy timeout behind the current writer, and only
then reads.

Requests that cannot write (GET, HEAD, OPTIONS) begin deferred and read their WAL
snapshot beside the writer, without waiting for it. A read view that does write (the
access records of the staff and clinic consoles) says so with `writes_on_read`; a
write in a deferred transaction is logged, naming the view to mark. Outside a request
(worker jobs, the outbox relay's sweep, CLI commands) every transaction may write.

The lock is held until the transaction ends, so no client may set its pace: a form's
body is received before the first query of its request (`_receive_form_first`), and a
view that must read before it receives a raw body (a tus PATCH) ends its transaction
first (`release_snapshot`). PostgreSQL is not touched: its row locks already make
writers wait.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any, Final, TypeVar

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, scoped_session

log = logging.getLogger(__name__)

READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES: Final = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})
WRITING: Final = "BEGIN IMMEDIATE"
READING: Final = "BEGIN"
_MARK: Final = "writes_on_read"
_DEFERRED: Final = "sqlite_deferred"
_UNREAD: Final = "unread"
_READ: Final = "read"
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)

View = TypeVar("View", bound=Callable[..., Any])


def writes_on_read(view: View) -> View:
    """Mark a GET view that writes, so that its transaction takes the write lock up front."""
    setattr(view, _MARK, True)
    return view


def may_write() -> bool:
    """Whether the transaction about to begin may write: always, except in a request
    with a read method whose view is not marked `writes_on_read`."""
    if not has_request_context() or request.method not in READ_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return bool(getattr(view, _MARK, False))


def release_snapshot(session: Session | scoped_session) -> None:
    """On SQLite, end the session's transaction (it must not have written) keeping what
    it loaded, so that the slow receiving which follows holds no lock; the next statement
    begins a new transaction, so what is written next must be conditional on what was
    read (a compare-and-set). Elsewhere a no-op."""
    target = session() if isinstance(session, scoped_session) else session
    if target.get_bind().dialect.name != "sqlite":
        return
    if target.new or target.dirty or target.deleted:
        raise RuntimeError("release_snapshot would commit pending writes")
    expire, target.expire_on_commit = target.expire_on_commit, False
    try:
        target.commit()
    finally:
        target.expire_on_commit = expire


def _receive_form_first() -> None:
    """Parse a form's body (files spool to disk) before the view's first query: the
    request's transaction then holds the write lock only for the app's own work, not
    while the client sends. (CSRFProtect does the same for pages; the API is exempt.)"""
    if request.method not in READ_METHODS and request.mimetype in FORM_TYPES:
        request.form.get("")  # the first access parses the whole body


def configure_sqlite(app: Flask, engine: Engine, *, busy_timeout: float) -> None:
    """Pragmas on every new connection, a BEGIN of our own on every transaction
    (pysqlite's own would break SAVEPOINTs), and forms received before any query;
    `busy_timeout` is in seconds."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={max(0, round(busy_timeout * 1000))}")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        writing = may_write()
        # A deferred transaction is harmless until it has read: its first write then
        # waits for the lock like any other (the busy handler applies); only a write
        # after a read holds a snapshot that SQLite cannot let wait.
        connection.info[_DEFERRED] = _UNREAD if not writing else None
        connection.exec_driver_sql(WRITING if writing else READING)

    @event.listens_for(engine, "before_cursor_execute")
    def _deferred_write(connection: Connection, _cursor, statement: str, *_args) -> None:
        state = connection.info.get(_DEFERRED)
        if state is None:
            return
        if not _WRITE.match(statement):
            connection.info[_DEFERRED] = _READ
            return
        connection.info[_DEFERRED] = None  # once per transaction
        if state == _READ and has_request_context():
            log.warning(
                "%s %s (%s) writes after reading in a deferred SQLite transaction, which fails at "
                "once when another process writes: mark the view with @writes_on_read",
                request.method, request.path, request.endpoint,
            )

    app.before_request(_receive_form_first)
