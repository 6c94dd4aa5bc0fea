"""The notifications page, marking read, and the navbar's bell."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from qms.extensions import db
from qms.models import Notification, NotificationKind, Role
from tests.conftest import csrf_token
from tests.web.conftest import text

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội


def notify(user, message: str, *, minutes: int = 0, read: bool = False,
           link: str = "/dossiers/TP-A-261127-0001") -> Notification:
    notice = Notification(user=user, kind=NotificationKind.step_overdue, message=message,
                          link=link, created_at=T0 + timedelta(minutes=minutes),
                          read_at=T0 + timedelta(hours=1) if read else None)
    db.session.add(notice)
    db.session.commit()
    return notice


def messages_on(response) -> list[str]:
    page = response.get_data(as_text=True)
    items = re.findall(r'<div class="list-group-item d-flex.*?data-id="\d+">(.*?)</form>', page, re.S)
    return [re.search(r"(Hồ sơ [^<]*?)\s*</div>", item).group(1).strip() for item in items]


@pytest.fixture
def officer(users):
    return users[Role.officer]


@pytest.fixture
def head(users):
    return users[Role.department_head]


def test_page_lists_own_notifications_unread_first_newest_first(client_as, officer, head):
    notify(officer, "Hồ sơ A: cũ, đã đọc", minutes=0, read=True)
    notify(officer, "Hồ sơ B: chưa đọc, cũ hơn", minutes=10)
    notify(officer, "Hồ sơ C: chưa đọc, mới nhất", minutes=20)
    notify(officer, "Hồ sơ D: đã đọc, mới", minutes=30, read=True)
    notify(head, "Hồ sơ E: của trưởng phòng", minutes=40)
    response = client_as(Role.officer).get("/notifications")
    assert response.status_code == 200
    assert messages_on(response) == ["Hồ sơ C: chưa đọc, mới nhất", "Hồ sơ B: chưa đọc, cũ hơn",
                                     "Hồ sơ D: đã đọc, mới", "Hồ sơ A: cũ, đã đọc"]
    assert "của trưởng phòng" not in text(response)


def test_an_empty_list_says_so(client_as, officer):
    assert "Bạn chưa có thông báo nào." in text(client_as(Role.officer).get("/notifications"))


def test_the_list_is_paginated(app, monkeypatch, client_as, officer):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    for n in range(5):
        notify(officer, f"Hồ sơ số {n}", minutes=n)
    client = client_as(Role.officer)
    assert messages_on(client.get("/notifications")) == ["Hồ sơ số 4", "Hồ sơ số 3"]
    assert messages_on(client.get("/notifications?page=3")) == ["Hồ sơ số 0"]


def test_reading_marks_read_and_opens_the_link(client_as, officer):
    notice = notify(officer, "Hồ sơ X: quá hạn", link="/dossiers/TP-A-261127-0007")
    client = client_as(Role.officer)
    response = client.post(f"/notifications/{notice.id}/read",
                           data={"csrf_token": csrf_token(client, "/notifications")})
    assert response.status_code == 302
    assert response.location == "/dossiers/TP-A-261127-0007"
    db.session.refresh(notice)
    assert notice.read_at is not None
    first_read = notice.read_at
    client.post(f"/notifications/{notice.id}/read",
                data={"csrf_token": csrf_token(client, "/notifications")})
    db.session.refresh(notice)
    assert notice.read_at == first_read  # reading again keeps the first time


def test_a_link_outside_the_site_is_not_followed(client_as, officer):
    notice = notify(officer, "Hồ sơ Y", link="//evil.example/phish")
    client = client_as(Role.officer)
    response = client.post(f"/notifications/{notice.id}/read",
                           data={"csrf_token": csrf_token(client, "/notifications")})
    assert response.location == "/notifications"


@pytest.mark.parametrize("whose", ["someone else's", "none"])
def test_another_users_notification_is_not_found(client_as, officer, head, whose):
    notice = notify(head, "Hồ sơ Z: của trưởng phòng")
    client = client_as(Role.officer)
    notice_id = notice.id if whose == "someone else's" else 987654
    response = client.post(f"/notifications/{notice_id}/read",
                           data={"csrf_token": csrf_token(client, "/notifications")})
    assert response.status_code == 404
    db.session.refresh(notice)
    assert notice.read_at is None


def test_read_all_marks_only_the_users_own(client_as, officer, head):
    mine = [notify(officer, f"Hồ sơ {n}", minutes=n) for n in range(3)]
    theirs = notify(head, "Hồ sơ của trưởng phòng")
    client = client_as(Role.officer)
    response = client.post("/notifications/read-all",
                           data={"csrf_token": csrf_token(client, "/notifications")},
                           follow_redirects=True)
    assert "Đã đánh dấu 3 thông báo là đã đọc." in text(response)
    for notice in [*mine, theirs]:
        db.session.refresh(notice)
    assert all(n.read_at is not None for n in mine)
    assert theirs.read_at is None


def bell(response) -> str | None:
    match = re.search(r'<span class="badge[^"]*" id="bell-count">(\d+)</span>',
                      response.get_data(as_text=True))
    return match.group(1) if match else None


def test_the_bell_counts_unread_notifications(client_as, officer, head):
    client = client_as(Role.officer)
    assert 'id="bell"' in client.get("/").get_data(as_text=True)
    assert bell(client.get("/")) is None  # nothing unread: no badge
    notify(officer, "Hồ sơ 1")
    notify(officer, "Hồ sơ 2")
    notify(officer, "Hồ sơ 3", read=True)
    notify(head, "Hồ sơ 4")
    assert bell(client.get("/")) == "2"
    assert bell(client.get("/documents")) == "2"  # on every page
    client.post("/notifications/read-all", data={"csrf_token": csrf_token(client, "/notifications")})
    assert bell(client.get("/")) is None


def test_no_bell_for_anonymous_visitors(client):
    page = client.get("/").get_data(as_text=True)
    assert 'id="bell"' not in page


def test_the_bell_costs_one_count_query(app, client_as, officer):
    notify(officer, "Hồ sơ 1")
    client = client_as(Role.officer)
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = client.get("/auth/password")
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert bell(response) == "1"
    touching = [s for s in statements if re.search(r"\bnotification\b", s)]
    assert len(touching) == 1, touching
    assert "count(" in touching[0].lower()


def test_notifications_need_a_login(client, officer):
    notify(officer, "Hồ sơ 1")
    assert client.get("/notifications").location.startswith("/auth/login")
