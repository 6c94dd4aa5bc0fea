"""Status changes of dossiers received here, out to a configured endpoint through the outbox:
written in the transaction of the change, delivered by `qms push-events` signed, in order per
dossier, retried with back-off, never twice once acknowledged (issue 13)."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from qms import clock
from qms.extensions import db
from qms.models import OutboxDelivery, OutboxEvent, Role
from qms.services import dossiers, outbox
from tests.sync.conftest import MONDAY, portal

SECRET = "chia-se-bi-mat-2026-tinh"


class Receiver:
    """A real HTTP receiver on loopback: checks each signature, answers 500 while `failing`,
    and records what it acknowledged, in order."""

    def __init__(self):
        self.failing = 0  # answer 500 to this many more requests
        self.acknowledged: list[dict] = []
        self.refused: list[int] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers.get("X-QMS-Signature", "")):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                elif receiver.failing:
                    receiver.failing -= 1
                    receiver.refused.append(int(self.headers["X-QMS-Event-Id"]))
                    self.send_response(500)
                else:
                    receiver.acknowledged.append({"event": int(self.headers["X-QMS-Event-Id"]), **json.loads(body)})
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/trang-thai"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def desk_officer(make_user, orgtree):
    return make_user("motcuaphuong", Role.officer, department=orgtree["onestop"])


def _receive(officer, procedure, name, now):
    dossier, _secret = dossiers.receive_dossier(actor=officer, procedure=procedure, applicant_name=name, now=now)
    db.session.commit()
    return dossier


def test_each_status_change_is_written_in_its_transaction_and_synced_ones_never(
        source, three_day_birth, desk_officer, monday):
    dossier = _receive(desk_officer, three_day_birth, "Nguyễn Văn An", monday)
    events = db.session.scalars(sa.select(OutboxEvent)).all()
    assert [(e.dossier_id, e.status_code) for e in events] == [(dossier.id, 2)]
    payload = events[0].payload
    assert payload["MaHoSo"] == dossier.code and payload["MaTTHC"] == "1.001193"
    assert payload["TrangThaiHoSo"] == 2 and payload["NgayTiepNhan"] == "20261207100000"
    assert payload["QuaTrinhXuLyHoSo"][0]["NoiDungXuLy"] == "Đã tiếp nhận"
    # a refused change leaves nothing behind: the outbox row goes with the rollback
    dossiers.request_supplement(dossier, actor=desk_officer, reason="Thiếu giấy chứng sinh", now=monday)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(OutboxEvent.id))) == 1
    # a dossier synced from the provincial system is its own system's to report
    from qms.services import sync
    sync.sync_dossiers(source, [portal("H12-0001")], actor=source.account, now=monday)
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(OutboxEvent.id))) == 1


def test_push_events_delivers_signed_in_order_retries_and_never_twice(
        app, invoke, receiver, three_day_birth, desk_officer, staff, monday):
    outbox.add_endpoint(actor=staff["quality"], name="Một cửa tỉnh", url=receiver.url, secret=SECRET)
    db.session.commit()
    first = _receive(desk_officer, three_day_birth, "Nguyễn Văn An", monday)
    second = _receive(desk_officer, three_day_birth, "Trần Thị Bình", monday)
    dossiers.request_supplement(first, actor=desk_officer, reason="Thiếu giấy chứng sinh", now=monday)
    db.session.commit()
    dossiers.receive_supplement(first, actor=desk_officer, now=monday + timedelta(hours=1))
    db.session.commit()
    # first: 2, 5, 4; second: 2

    receiver.failing = 1  # the first request fails: the first dossier's first change
    result = invoke(app, "push-events")
    assert result.exit_code == 0, result.output
    assert "1 delivered, 1 failed" in result.output
    assert [(a["MaHoSo"], a["TrangThaiHoSo"]) for a in receiver.acknowledged] == [(second.code, 2)]

    # too early: the back-off holds it (and the first dossier's later changes wait behind it)
    assert "0 delivered, 0 failed" in invoke(app, "push-events").output
    with clock.frozen(MONDAY + timedelta(minutes=2)):
        result = invoke(app, "push-events")
    assert "3 delivered, 0 failed" in result.output, result.output
    assert [(a["MaHoSo"], a["TrangThaiHoSo"]) for a in receiver.acknowledged] == [
        (second.code, 2), (first.code, 2), (first.code, 5), (first.code, 4)]
    assert receiver.bad_signatures == 0 and len(receiver.refused) == 1

    # acknowledged: never sent again
    with clock.frozen(MONDAY + timedelta(hours=7)):
        assert "0 delivered, 0 failed" in invoke(app, "push-events").output
    assert len(receiver.acknowledged) == 4
    attempts = db.session.scalars(sa.select(OutboxDelivery.attempts).order_by(OutboxDelivery.event_id)).all()
    assert attempts == [2, 1, 1, 1]


def test_an_unreachable_endpoint_backs_off_and_shows_on_the_sync_page(app, invoke, three_day_birth, desk_officer,
                                                                       staff, monday):
    from tests.conftest import login

    outbox.add_endpoint(actor=staff["quality"], name="Cổng tỉnh", url="http://127.0.0.1:9/khong-co", secret=SECRET)
    db.session.commit()
    _receive(desk_officer, three_day_birth, "Nguyễn Văn An", monday)
    result = invoke(app, "push-events")
    assert "0 delivered, 1 failed" in result.output
    delivery = db.session.scalar(sa.select(OutboxDelivery))
    db.session.refresh(delivery)
    assert delivery.next_attempt_at == monday + timedelta(minutes=1)
    with clock.frozen(MONDAY + timedelta(minutes=1)):
        invoke(app, "push-events")
    db.session.refresh(delivery)
    assert delivery.attempts == 2 and delivery.next_attempt_at == monday + timedelta(minutes=3)  # doubled
    client = app.test_client()
    login(client, "quality")
    page = client.get("/admin/sync").get_data(as_text=True)
    assert "Cổng tỉnh" in page and 'id="push-failures"' in page and delivery.last_error in page


def test_an_endpoint_needs_an_address_and_a_real_secret(staff, monday):
    from qms.errors import ValidationError

    with pytest.raises(ValidationError):
        outbox.add_endpoint(actor=staff["quality"], name="X", url="ftp://x", secret=SECRET)
    with pytest.raises(ValidationError):
        outbox.add_endpoint(actor=staff["quality"], name="X", url="https://x.vn/api", secret="ngan")
