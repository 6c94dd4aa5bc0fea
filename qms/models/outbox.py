"""Status changes of dossiers received here, going out to another system (the provincial
one-stop system, the national portal) in the national portal's shape: the outbox, written in
the transaction of the change, and its delivery to each configured endpoint."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms import clock
from qms.models.base import Base, IdMixin


class PushEndpoint(IdMixin, Base):
    """Where status changes are delivered: a URL and the shared secret the body is signed
    with (HMAC-SHA256). It receives the changes made from its creation on (`first_event_id`)."""

    __tablename__ = "push_endpoint"
    __audited__ = True
    __audit_secret__ = ("secret",)

    name: Mapped[str] = mapped_column(sa.String(255))
    url: Mapped[str] = mapped_column(sa.String(1000))
    secret: Mapped[str] = mapped_column(sa.String(255))  # needed in clear to sign; shown only as ***
    active: Mapped[bool] = mapped_column(default=True)
    first_event_id: Mapped[int] = mapped_column(default=1)
    enqueued_through: Mapped[int] = mapped_column(default=0)  # events turned into deliveries
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class OutboxEvent(IdMixin, Base):
    """One status change of one dossier, as it is to be sent: the payload is the dossier in
    the portal's shape at that moment. Its id orders a dossier's changes."""

    __tablename__ = "outbox_event"

    dossier_id: Mapped[int] = mapped_column(sa.ForeignKey("dossier.id"), index=True)
    status_code: Mapped[int]  # the national status code (1-10)
    at: Mapped[datetime] = mapped_column(default=clock.now)
    payload: Mapped[dict] = mapped_column(sa.JSON)


class OutboxDelivery(IdMixin, Base):
    """An event's delivery to one endpoint: attempts, the next one (back-off), the last error,
    and once acknowledged, when. A run claims it for a while so that two runs never send it
    both."""

    __tablename__ = "outbox_delivery"
    __table_args__ = (sa.UniqueConstraint("event_id", "endpoint_id"),
                      sa.Index("ix_outbox_delivery_pending", "endpoint_id", "delivered_at", "next_attempt_at"))

    event_id: Mapped[int] = mapped_column(sa.ForeignKey("outbox_event.id"))
    endpoint_id: Mapped[int] = mapped_column(sa.ForeignKey("push_endpoint.id"))
    dossier_id: Mapped[int] = mapped_column(sa.ForeignKey("dossier.id"), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=clock.now)
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]

    event: Mapped[OutboxEvent] = relationship()
    endpoint: Mapped[PushEndpoint] = relationship()
