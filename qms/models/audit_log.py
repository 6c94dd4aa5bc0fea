"""The append-only audit log: who did what to which record, and when."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, mapped_column

from qms import clock
from qms.models.base import Base, IdMixin


class AuditLog(IdMixin, Base):
    __tablename__ = "audit_log"

    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    # The acting user; None for the system itself (then actor_name says which process).
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    actor_name: Mapped[str] = mapped_column(sa.String(128))
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    entity_type: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    entity_id: Mapped[int | None] = mapped_column(index=True)
    # {column: [old, new]} for updates, {column: new} for creations.
    changes: Mapped[dict | None] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.Text)
    remote_addr: Mapped[str | None] = mapped_column(sa.String(64))


class AppendOnlyError(RuntimeError):
    pass


@event.listens_for(AuditLog, "before_update")
@event.listens_for(AuditLog, "before_delete")
def _refuse_rewrite(mapper, connection, target):
    # The database refuses too (triggers from the migration); this fails earlier and clearer.
    raise AppendOnlyError("the audit log is append-only")
