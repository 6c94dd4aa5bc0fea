"""Declarative base, the constraint naming convention, the UTC datetime type and the
labelled enum (an enum whose members carry their display label)."""
from __future__ import annotations

import enum
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so that Alembic (batch mode on SQLite) can find them later.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware datetimes, stored as UTC on every database.

    SQLite keeps no offset, so values come back naive; they are UTC by construction here.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use qms.clock.now() or an aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class LabelledEnum(enum.Enum):
    """An enum whose members carry their label, declared once beside them:

        received = "received", _l("Đã tiếp nhận")

    The value stays the string ("received"); `member.label` is the label in the current
    locale, `member.lazy_label` the lazy string (for choices declared at import time), and
    `Enum.labels()` / `Enum.choices()` the mappings pages and forms need. Mix in `str`
    first (`class X(str, LabelledEnum)`) when the members must compare equal to their
    values, as SQL results do.
    """

    def __new__(cls, value, label):
        member = str.__new__(cls, value) if issubclass(cls, str) else object.__new__(cls)
        member._value_ = value
        member.lazy_label = label
        return member

    @property
    def label(self) -> str:
        return str(self.lazy_label)

    @classmethod
    def labels(cls) -> dict:
        """{member: lazy label}, in declaration order."""
        return {member: member.lazy_label for member in cls}

    @classmethod
    def value_labels(cls) -> dict:
        """{value: lazy label}, in declaration order (for values read from SQL or forms)."""
        return {member.value: member.lazy_label for member in cls}

    @classmethod
    def choices(cls) -> list[tuple[str, object]]:
        """(value, lazy label) pairs for a select field."""
        return [(member.value, member.lazy_label) for member in cls]


def enum_type(enum_class, length: int = 32) -> sa.Enum:
    """An enum stored as its value in a VARCHAR: portable, and no ALTER TYPE on PostgreSQL."""
    return sa.Enum(enum_class, native_enum=False, length=length, validate_strings=True)


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}

    # Models that set this are recorded in the audit log on every insert and update.
    __audited__ = False
    # Columns whose values never go into the audit log (only the fact they changed).
    __audit_secret__: tuple[str, ...] = ()


class IdMixin:
    id: Mapped[int] = mapped_column(primary_key=True)
