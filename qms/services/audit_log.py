"""Attribution of every change: the acting user and the automatic audit trail.

Models with `__audited__ = True` get an audit-log row for each insert and update, written
in the same transaction by a flush listener, so no service can forget one. Services add
rows of their own (`record`) for events that are not a column change: a login, a role
change, a state transition with a reason.
"""
from __future__ import annotations

import enum
import getpass
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import has_request_context, request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from qms import clock
from qms.models import AuditLog, User

_actor: ContextVar[User | None] = ContextVar("qms_actor", default=None)
_system_name: ContextVar[str | None] = ContextVar("qms_system_name", default=None)


@contextmanager
def acting_as(user: User | None, *, system: str | None = None):
    """Attribute the changes made inside the block to `user` (or to a named system
    process). With neither given, the enclosing attribution stands."""
    user_token = _actor.set(user if user is not None else _actor.get())
    system_token = _system_name.set(system or _system_name.get())
    try:
        yield
    finally:
        _actor.reset(user_token)
        _system_name.reset(system_token)


def current_actor() -> tuple[int | None, str]:
    user = _actor.get()
    if user is None and has_request_context():
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            user = current_user
    if user is not None:
        return user.id, user.username
    system = _system_name.get()
    if system:
        return None, system
    if has_request_context():
        return None, "anonymous"
    return None, f"system:{_os_user()}"


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def entity_type(obj) -> str:
    return obj.__tablename__


def _plain(value):
    """A JSON-friendly form of a column value."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(action: str, entity: str | None, entity_id: int | None, changes, note) -> dict:
    actor_id, actor_name = current_actor()
    return {
        "at": clock.now(),
        "actor_id": actor_id,
        "actor_name": actor_name,
        "action": action,
        "entity_type": entity,
        "entity_id": entity_id,
        "changes": changes or None,
        "note": note,
        "remote_addr": request.remote_addr if has_request_context() else None,
    }


def record(session: Session, action: str, obj=None, *, changes: dict | None = None,
           note: str | None = None) -> None:
    """Add an explicit audit row (an event that is not a plain column change)."""
    session.execute(
        sa.insert(AuditLog),
        [_row(action, entity_type(obj) if obj is not None else None,
              getattr(obj, "id", None), changes, note)],
    )


def record_created(session: Session, model, rows: list[tuple[int, dict]]) -> None:
    """The "<entity>.created" rows of records inserted in bulk rather than through the ORM
    (dossiers taken in from another system), as the flush listener writes them for ORM
    objects: who, when, and every value set. One executemany however many."""
    if not rows:
        return
    entity = model.__tablename__
    secret = getattr(model, "__audit_secret__", ())
    same = _row(f"{entity}.created", entity, None, None, None)  # who and when: the same for all
    from qms import bulk

    bulk.insert_rows(AuditLog.__table__, [
        {**same, "entity_id": entity_id,
         "changes": {key: "***" if key in secret else _plain(value) for key, value in values.items()
                     if value is not None and key != "id"}}
        for entity_id, values in rows])


def _column_changes(obj, *, created: bool) -> dict:
    state = inspect(obj)
    secret = type(obj).__audit_secret__
    changes = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if created:
            value = getattr(obj, attr.key)
            if attr.key != "id" and value is not None:
                changes[attr.key] = "***" if attr.key in secret else _plain(value)
        elif history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old == new:
                continue
            changes[attr.key] = (["***", "***"] if attr.key in secret
                                 else [_plain(old), _plain(new)])
    return changes


def _after_flush(session: Session, flush_context) -> None:
    rows = []
    for obj in session.new:
        if getattr(obj, "__audited__", False):
            rows.append(_row(f"{entity_type(obj)}.created", entity_type(obj), obj.id,
                             _column_changes(obj, created=True), None))
    for obj in session.dirty:
        if getattr(obj, "__audited__", False) and session.is_modified(obj, include_collections=False):
            changes = _column_changes(obj, created=False)
            if changes:
                rows.append(_row(f"{entity_type(obj)}.updated", entity_type(obj), obj.id,
                                 changes, None))
    for obj in session.deleted:
        if getattr(obj, "__audited__", False):
            # Quality records are never deleted; should it ever happen, it is on record.
            rows.append(_row(f"{entity_type(obj)}.deleted", entity_type(obj), obj.id, None, None))
    if rows:
        session.connection().execute(sa.insert(AuditLog), rows)


def install(session_class) -> None:
    """Attach the audit listener to the app's session class (once)."""
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)


def flush_as(session: Session, actor: User | None) -> None:
    """Flush now, so the automatic rows name `actor` even if the commit happens elsewhere."""
    with acting_as(actor):
        session.flush()
