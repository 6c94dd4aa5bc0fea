"""Status changes of dossiers received here, out to another system (issue 13).

Every change of a local dossier's status is written to the outbox by a flush listener, in
the transaction that made it (so a change is never lost and never sent without having
happened): the dossier in the national portal's shape at that moment. `qms push-events`
(from cron) delivers the outbox to each configured endpoint:

- as a POST of that JSON, signed: `X-QMS-Signature: sha256=<HMAC-SHA256 of the body with the
  endpoint's shared secret>`, with `X-QMS-Event-Id` for the receiver to recognise a repeat;
- in order per dossier: a dossier's next change waits until the one before it is
  acknowledged (any 2xx answer); other dossiers go on;
- retried with back-off (1 min, 2, 4, … up to 6 h), the error kept for the admin page;
- never twice once acknowledged: a delivery is claimed before it is sent (two runs never
  send the same one) and marked delivered as soon as the answer is in.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, aliased

from qms import authz, clock
from qms.errors import ValidationError
from qms.extensions import db
from qms.localtime import to_local
from qms.models import Dossier, OutboxDelivery, OutboxEvent, PushEndpoint, User
from qms.services import audit_log

TIMEOUT_SECONDS = 10
CLAIM = timedelta(minutes=2)  # a delivery being sent is not picked by another run meanwhile
BACKOFF_FIRST, BACKOFF_MAX = timedelta(minutes=1), timedelta(hours=6)


# --- writing: the flush listener -----------------------------------------------------------------
def _portal_time(moment: datetime | None) -> str | None:
    return None if moment is None else to_local(moment).strftime("%Y%m%d%H%M%S")


def portal_payload(dossier: Dossier, at: datetime, actor_name: str) -> dict:
    """The dossier in the national portal's shape, with this change as its history entry."""
    status = dossier.status
    with force_locale("vi"):  # the receiving systems read Vietnamese
        label = str(status.lazy_label)
    return {
        "MaHoSo": dossier.code, "MaTTHC": dossier.procedure.code, "TenTTHC": dossier.procedure.name,
        "KenhThucHien": dossier.channel.national_code, "ChuHoSo": dossier.applicant_name,
        "NgayNopHoSo": _portal_time(dossier.registered_at or dossier.received_at),
        "NgayTiepNhan": _portal_time(dossier.received_at), "NgayHenTra": _portal_time(dossier.due_at),
        "NgayYeuCauBoSung": _portal_time(dossier.paused_at) if status.national_code == 5 else None,
        "NgayKetThucXuLy": _portal_time(dossier.processed_at), "NgayTra": _portal_time(dossier.returned_at),
        "TrangThaiHoSo": status.national_code, "MaDinhDanh": dossier.agency.code,
        "DonViXuLy": dossier.processing_agency.name,
        "QuaTrinhXuLyHoSo": [{"NguoiXuLy": actor_name, "ThoiDiemXuLy": _portal_time(at), "NoiDungXuLy": label,
                              "TrangThai": status.national_code}],
    }


def _status_changed(dossier: Dossier) -> bool:
    history = inspect(dossier).attrs.status.history
    return history.has_changes() and (history.deleted or [None])[0] != dossier.status


def _after_flush(session: Session, flush_context) -> None:
    changed = [obj for obj in session.new if isinstance(obj, Dossier) and obj.source_id is None]
    changed += [obj for obj in session.dirty if isinstance(obj, Dossier) and obj.source_id is None
                and _status_changed(obj)]
    if not changed:
        return
    now, (_id, actor_name) = clock.now(), audit_log.current_actor()
    session.connection().execute(sa.insert(OutboxEvent), [
        {"dossier_id": d.id, "status_code": d.status.national_code, "at": now,
         "payload": portal_payload(d, now, actor_name)} for d in changed])


def install(session_class) -> None:
    """Attach the outbox listener to the app's session class (once)."""
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)


# --- endpoints -----------------------------------------------------------------------------------
def add_endpoint(*, actor: User | None, name: str, url: str, secret: str) -> PushEndpoint:
    """Deliver the status changes made from now on to `url`, signed with `secret`."""
    if actor is not None:
        authz.require(actor, "sync.manage", message=_("Chỉ quản trị hoặc cán bộ ISO cấu hình đồng bộ."))
    name, url, secret = (name or "").strip(), (url or "").strip(), (secret or "").strip()
    if not name or not url.startswith(("http://", "https://")):
        raise ValidationError(_("Hãy nhập tên và địa chỉ http(s) nhận trạng thái hồ sơ."))
    if len(secret) < 16:
        raise ValidationError(_("Khóa bí mật dùng chung cần ít nhất 16 ký tự."))
    last = db.session.scalar(sa.select(sa.func.max(OutboxEvent.id))) or 0
    endpoint = PushEndpoint(name=name, url=url, secret=secret, first_event_id=last + 1, enqueued_through=last)
    db.session.add(endpoint)
    audit_log.flush_as(db.session, actor)
    return endpoint


def endpoints() -> list[PushEndpoint]:
    return list(db.session.scalars(sa.select(PushEndpoint).order_by(PushEndpoint.id)))


def enqueue(endpoint: PushEndpoint) -> int:
    """Turn the events written since the last run into deliveries to `endpoint`."""
    start = max(endpoint.enqueued_through, endpoint.first_event_id - 1)
    last = db.session.scalar(sa.select(sa.func.max(OutboxEvent.id))) or 0
    if last <= start:
        return 0
    inserted = db.session.execute(sa.insert(OutboxDelivery).from_select(
        ["event_id", "endpoint_id", "dossier_id", "next_attempt_at"],
        sa.select(OutboxEvent.id, sa.literal(endpoint.id), OutboxEvent.dossier_id, OutboxEvent.at)
        .where(OutboxEvent.id > start, OutboxEvent.id <= last))).rowcount
    endpoint.enqueued_through = last
    db.session.flush()
    return inserted


def deliverable(endpoint: PushEndpoint, now: datetime, limit: int = 100) -> list[int]:
    """The deliveries to send now: for each dossier only its earliest one not delivered
    (the order per dossier), if due and not claimed by another run."""
    earlier = aliased(OutboxDelivery)
    return list(db.session.scalars(
        sa.select(OutboxDelivery.id)
        .where(OutboxDelivery.endpoint_id == endpoint.id, OutboxDelivery.delivered_at.is_(None),
               OutboxDelivery.next_attempt_at <= now,
               sa.or_(OutboxDelivery.claimed_until.is_(None), OutboxDelivery.claimed_until < now),
               ~sa.exists().where(earlier.endpoint_id == OutboxDelivery.endpoint_id,
                                  earlier.dossier_id == OutboxDelivery.dossier_id,
                                  earlier.delivered_at.is_(None), earlier.event_id < OutboxDelivery.event_id))
        .order_by(OutboxDelivery.event_id).limit(limit)))


def claim(delivery_id: int, now: datetime) -> bool:
    """Take the delivery for this run (compare-and-set: of two runs exactly one gets it)."""
    return db.session.execute(
        sa.update(OutboxDelivery)
        .where(OutboxDelivery.id == delivery_id, OutboxDelivery.delivered_at.is_(None),
               sa.or_(OutboxDelivery.claimed_until.is_(None), OutboxDelivery.claimed_until < now))
        .values(claimed_until=now + CLAIM)).rowcount == 1


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(delivery: OutboxDelivery) -> str | None:
    """POST the event to its endpoint; None when acknowledged (2xx), else what went wrong."""
    endpoint, outbox_event = delivery.endpoint, delivery.event
    body = json.dumps(outbox_event.payload, ensure_ascii=False, separators=(",", ":")).encode()
    request = urllib.request.Request(endpoint.url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "X-QMS-Signature": sign(endpoint.secret, body),
        "X-QMS-Event-Id": str(outbox_event.id), "X-QMS-Attempt": str(delivery.attempts + 1),
        "User-Agent": "qms-push-events"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # nosec B310: an http(s) URL set by the administrator
            return None if 200 <= response.status < 300 else f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return str(getattr(error, "reason", error))[:500]


def record(delivery: OutboxDelivery, error: str | None, now: datetime) -> None:
    """The answer: delivered, or the next attempt after a back-off that doubles each time."""
    delivery.attempts += 1
    delivery.last_attempt_at, delivery.claimed_until = now, None
    if error is None:
        delivery.delivered_at, delivery.last_error = now, ""
    else:
        delay = min(BACKOFF_FIRST * 2 ** (delivery.attempts - 1), BACKOFF_MAX)
        delivery.next_attempt_at, delivery.last_error = now + delay, error
    db.session.flush()


def status(endpoint: PushEndpoint) -> dict:
    """For the admin page: waiting, failing (an attempt failed), delivered."""
    base = sa.select(sa.func.count(OutboxDelivery.id)).where(OutboxDelivery.endpoint_id == endpoint.id)
    return {
        "waiting": db.session.scalar(base.where(OutboxDelivery.delivered_at.is_(None))),
        "failing": db.session.scalar(base.where(OutboxDelivery.delivered_at.is_(None),
                                                OutboxDelivery.attempts > 0)),
        "delivered": db.session.scalar(base.where(OutboxDelivery.delivered_at.is_not(None))),
        "not_enqueued": max(0, (db.session.scalar(sa.select(sa.func.max(OutboxEvent.id))) or 0)
                            - max(endpoint.enqueued_through, endpoint.first_event_id - 1)),
    }


def failures(limit: int = 50) -> list[OutboxDelivery]:
    """Deliveries whose last attempt failed, the most recent first."""
    return list(db.session.scalars(
        sa.select(OutboxDelivery).where(OutboxDelivery.delivered_at.is_(None), OutboxDelivery.attempts > 0)
        .order_by(OutboxDelivery.last_attempt_at.desc()).limit(limit)))
