"""The management review pages: create, inputs shown as tables, conclusions, actions, a
nonconformity from a decision, closing, and the owner marking an action done."""
import pytest
import sqlalchemy as sa

from qms.extensions import db
from qms.models import ManagementReview, NcSource, Nonconformity, ReviewAction, Role
from tests.conftest import login, post_form
from tests.web.conftest import flashes, table_rows, text


@pytest.fixture
def people(make_user, orgtree):
    return {
        "iso": make_user("iso", Role.quality_officer, department=orgtree["office"]),
        "chutich": make_user("chutich", Role.leader, department=orgtree["office"]),
        "truongvh": make_user("truongvh", Role.department_head, department=orgtree["culture"]),
        "lanhdaotinh": make_user("lanhdaotinh", Role.leader, department=orgtree["centre"]),
    }


def _client(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _create(client, people, **changes):
    data = {"title": "Xem xét của lãnh đạo năm 2026", "held_on": "2026-12-05", "period_start": "2026-01-01",
            "period_end": "2026-11-30", "chair_id": str(people["chutich"].id),
            "attendees": "Chủ tịch, Phó Chủ tịch, các trưởng phòng"}
    data.update(changes)
    return post_form(client, "/reviews/management/new", data)


def test_a_review_from_creation_to_closing(app, orgtree, people):
    iso = _client(app, "iso")
    page = iso.get("/reviews/management/new")
    assert page.status_code == 200 and "Xem xét của lãnh đạo năm" in text(page)
    response = _create(iso, people)
    review = db.session.scalars(sa.select(ManagementReview)).one()
    url = f"/reviews/management/{review.id}"
    assert response.location == url
    page = iso.get(url)
    body = text(page)
    assert "Xem xét của lãnh đạo năm 2026" in body and "chủ trì: Chutich" in body
    assert ["Tỷ lệ giải quyết đúng hạn", "—"] in table_rows(page, "input-dossiers")
    assert ["Tiếp nhận trong kỳ (phản ánh / kiến nghị)", "0 (0 / 0)"] in table_rows(page, "input-feedback")
    assert 'id="conclusions-form"' in body and 'id="close-form"' in body

    post_form(iso, f"{url}/conclusions", {"conclusions-conclusions": "Hệ thống duy trì phù hợp.",
                                          "conclusions-risks": "Thiếu công chức một cửa.",
                                          "conclusions-attendees": "Đủ thành phần"}, token_from=url)
    response = post_form(iso, f"{url}/actions", {"action-description": "Bổ sung công chức một cửa",
                                                 "action-owner_id": str(people["truongvh"].id),
                                                 "action-due_date": "2027-01-31"}, token_from=url)
    assert "Đã thêm hành động." in flashes(iso.get(response.location))
    post_form(iso, f"{url}/nonconformity", {"nc-department_id": orgtree["culture"].id, "nc-clause": "9.3",
                                            "nc-severity": "minor", "nc-description": "Chưa đo mục tiêu"},
              token_from=url)
    [nc] = db.session.scalars(sa.select(Nonconformity)).all()
    assert (nc.source, nc.review_id) == (NcSource.management_review, review.id)

    leader = _client(app, "chutich")
    response = post_form(leader, f"{url}/close", {}, token_from=url)
    assert "Đã kết thúc cuộc xem xét; biên bản được khóa." in flashes(leader.get(response.location))
    db.session.refresh(review)
    assert review.closed_at is not None and review.conclusions == "Hệ thống duy trì phù hợp."
    body = text(leader.get(url))
    assert 'id="review-closed"' in body and 'id="conclusions-form"' not in body and 'id="action-form"' not in body
    assert "Thiếu công chức một cửa." in body and nc.code in body

    # A crafted edit of the closed record is refused and changes nothing
    response = post_form(leader, f"{url}/conclusions", {"conclusions-conclusions": "Sửa lại"},
                         token_from="/reviews/management")
    assert any("đã kết thúc" in m for m in flashes(leader.get(response.location)))
    db.session.refresh(review)
    assert review.conclusions == "Hệ thống duy trì phù hợp."

    # The owner records the action done from the page; the list shows the progress
    head = _client(app, "truongvh")
    page = head.get(url)
    action = db.session.scalars(sa.select(ReviewAction)).one()
    done_url = f"{url}/actions/{action.id}/done"
    assert done_url in text(page)
    response = post_form(head, done_url, {}, token_from=url)
    assert "Đã ghi nhận hành động hoàn thành." in flashes(head.get(response.location))
    db.session.refresh(action)
    assert action.done_at is not None
    rows = table_rows(head.get("/reviews/management"), "reviews")
    assert rows[0][1] == "Xem xét của lãnh đạo năm 2026" and rows[0][3] == "1/1"


def test_bad_input_is_explained(app, orgtree, people):
    iso = _client(app, "iso")
    response = _create(iso, people, period_start="2026-12-01", period_end="2026-01-01")
    assert response.status_code == 200
    assert any("kỳ xem xét" in m for m in flashes(response))
    response = _create(iso, people, held_on="ngày mai")
    assert response.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(ManagementReview.id))) == 0


def test_who_opens_what(app, orgtree, people):
    iso = _client(app, "iso")
    _create(iso, people)
    review = db.session.scalars(sa.select(ManagementReview)).one()
    head = _client(app, "truongvh")
    assert head.get("/reviews/management/new").status_code == 403
    assert head.get(f"/reviews/management/{review.id}").status_code == 200
    assert 'id="conclusions-form"' not in text(head.get(f"/reviews/management/{review.id}"))
    assert post_form(head, f"/reviews/management/{review.id}/close", {},
                     token_from="/reviews/management").status_code == 302
    db.session.refresh(review)
    assert review.closed_at is None  # refused (flashed), nothing changed
    other = _client(app, "lanhdaotinh")
    assert other.get(f"/reviews/management/{review.id}").status_code == 403
    assert table_rows(other.get("/reviews/management"), "reviews") == [["Chưa có cuộc xem xét nào."]]
    assert iso.get("/reviews/management/987654").status_code == 404
