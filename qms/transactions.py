"""SQLite transactions that take the write lock when they begin, never half-way.

pysqlite (in its default, legacy mode) runs reads outside any transaction and begins one,
DEFERRED, at the first write, which then asks for the write lock; under a few concurrent
writers the busy timeout runs out and the request fails with "database is locked" (a 500).
A transaction that will write asks for the lock first instead, with BEGIN IMMEDIATE: its
reads and writes are then one consistent unit, and it waits its turn (up to the busy
timeout) before doing anything rather than in the middle.

So: a request whose method changes something (POST, PUT, PATCH, DELETE), and the code
inside `writing()` (the jobs that write from a GET, the CLI's writing commands), begin
with BEGIN IMMEDIATE; everything else keeps the driver's behaviour, so pages only read
and, in WAL mode, never wait. What still times out answers 503 "busy, try again"
(qms.web.errors), never 500. PostgreSQL is untouched.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import g, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# True / False: begin with / without the write lock; None: as the request's method says.
_writing: ContextVar[bool | None] = ContextVar("qms_writing", default=None)


@contextmanager
def _mode(value: bool) -> Iterator[None]:
    token = _writing.set(value)
    try:
        yield
    finally:
        _writing.reset(token)


def writing():
    """Transactions begun inside this block take SQLite's write lock when they begin. Enter
    it before the session's transaction begins (a transaction already open keeps its mode)."""
    return _mode(True)


def reading():
    """Transactions begun inside this block do not ask for the write lock, whatever the
    request's method (the 503 page itself, rendered while another writer holds it)."""
    return _mode(False)


def wants_write() -> bool:
    """Begin with the write lock? Inside writing() / reading(): as they say. In a request
    whose method changes something: until it has committed a write, so that the reads
    after that commit (the page or JSON showing the result) never wait for the lock and
    never turn a saved change into a "busy" answer."""
    explicit = _writing.get()
    if explicit is not None:
        return explicit
    return (has_request_context() and request.method not in SAFE_METHODS
            and not g.get("qms_committed_a_write"))


def is_sqlite(dbapi_connection) -> bool:
    return type(dbapi_connection).__module__.startswith("sqlite3")


def _changes(connection) -> int:
    return connection.connection.dbapi_connection.total_changes  # rows written, ever


@event.listens_for(Engine, "begin")
def _begin(connection) -> None:
    if connection.dialect.name != "sqlite":
        return
    connection.info["qms_changes_at_begin"] = _changes(connection)
    if wants_write():
        # pysqlite does not begin by itself once a transaction is open: this one is used.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@event.listens_for(Engine, "commit")
def _commit(connection) -> None:
    if (connection.dialect.name == "sqlite" and has_request_context()
            and _changes(connection) != connection.info.get("qms_changes_at_begin")):
        g.qms_committed_a_write = True


def is_lock_timeout(error: BaseException) -> bool:
    """SQLite's "database is locked" (or busy) after the busy timeout ran out."""
    original = getattr(error, "orig", None)
    text = str(original or error).lower()
    return (type(original).__module__.startswith("sqlite3")
            and ("database is locked" in text or "database is busy" in text))
