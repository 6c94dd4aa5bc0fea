"""Many rows into one table at once: COPY on PostgreSQL (one stream, no statement per row),
an executemany elsewhere. For rows the ORM need not know (a sync batch's handling history:
thousands per request). Values go as the column types take them (aware datetimes, ints,
text); the table's Python-side defaults are not applied, so each row names every column."""
from __future__ import annotations

import json

import sqlalchemy as sa

from qms.extensions import db


def insert_rows(table: sa.Table, rows: list[dict]) -> None:
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        connection.execute(sa.insert(table), rows)
        return
    columns = list(rows[0])
    dialect = connection.dialect
    # Each value as the column's type sends it (an enum's value, UTC times; JSON as its text)
    processors = [_json_text if isinstance(table.c[name].type, sa.JSON)
                  else table.c[name].type.bind_processor(dialect) or _same for name in columns]
    names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
    import psycopg

    statement = f"COPY {table.name} ({names}) FROM STDIN"  # names from the model, never input
    cursor = connection.connection.driver_connection.cursor()
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([process(row[name]) for process, name in zip(processors, columns, strict=True)])
    except psycopg.IntegrityError as error:  # as SQLAlchemy reports it for a statement of its own
        raise sa.exc.IntegrityError(statement, None, error) from error


def _same(value):
    return value


def _json_text(value):
    return None if value is None else json.dumps(value, ensure_ascii=False)
