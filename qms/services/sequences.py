"""Numbering: the next number in a scope (e.g. "NC-2026"), safe when two requests ask at once."""
from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from qms.extensions import db
from qms.models import CodeSequence


def next_value(scope: str) -> int:
    """One atomic upsert returning the new value, like the dossiers' daily numbering."""
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(CodeSequence)
    statement = insert.values(scope=scope, last=1).on_conflict_do_update(
        index_elements=["scope"], set_={"last": CodeSequence.last + 1},
    ).returning(CodeSequence.last)
    return db.session.execute(statement).scalar_one()


def next_code(prefix: str, year: int, width: int = 4) -> str:
    """E.g. next_code("NC", 2026) → "NC-2026-0001", numbered per prefix and year."""
    return f"{prefix}-{year}-{next_value(f'{prefix}-{year}'):0{width}d}"
