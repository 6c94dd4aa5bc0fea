"""The citizen's satisfaction rating of a returned dossier: once, only once returned, through
the lookup page with the dossier's code and lookup secret; and the satisfaction rate."""
import pytest
import sqlalchemy as sa

from qms.errors import Conflict
from qms.extensions import db
from qms.models import DossierStatus, ResultDelivery, SatisfactionLevel, SatisfactionRating
from qms.services import dossiers
from qms.services import feedback as fb
from tests.conftest import csrf_token
from tests.dossiers.conftest import at
from tests.web.conftest import text

NOW = at(2026, 11, 23, 9, 0)


def _receive(procedure, desk, name="Phạm Văn Đức", agency_desk="onestop", when=NOW):
    dossier, secret = dossiers.receive_dossier(actor=desk[agency_desk], procedure=procedure,
                                               applicant_name=name, now=when)
    db.session.commit()
    return dossier, secret


def _return(dossier, desk, orgtree, when=NOW):
    """Walk the four steps of the birth registration to the returned result."""
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=when, next_department=orgtree["culture"])
    dossiers.complete_step(dossier.steps[1], actor=desk["culture"], now=when, next_department=orgtree["culture"])
    dossiers.complete_step(dossier.steps[2], actor=desk["culture"], now=when)
    dossiers.complete_step(dossier.steps[3], actor=desk["onestop"], now=when)
    dossiers.return_result(dossier, actor=desk["onestop"], via=ResultDelivery.desk, now=when)
    db.session.commit()
    assert dossier.status is DossierStatus.returned
    return dossier


def _ratings():
    return db.session.scalars(sa.select(SatisfactionRating)).all()


def test_a_returned_dossier_is_rated_once(in_force, desk, orgtree):
    dossier, _secret = _receive(in_force, desk)
    with pytest.raises(Conflict, match="chưa trả kết quả"):
        fb.rate_dossier(dossier, level="satisfied", now=NOW)
    assert not fb.may_rate(dossier)
    _return(dossier, desk, orgtree)
    assert fb.may_rate(dossier)
    rating = fb.rate_dossier(dossier, level=SatisfactionLevel.very_satisfied, comment=" Nhanh, chu đáo ",
                             now=at(2026, 11, 23, 10, 0))
    db.session.commit()
    assert (rating.level, rating.comment, rating.rated_at) == (
        SatisfactionLevel.very_satisfied, "Nhanh, chu đáo", at(2026, 11, 23, 10, 0))
    with pytest.raises(Conflict, match="đã được đánh giá"):
        fb.rate_dossier(dossier, level="dissatisfied", now=NOW)
    assert not fb.may_rate(dossier) and len(_ratings()) == 1


def _rated(dossier, level, when):
    db.session.add(SatisfactionRating(dossier=dossier, level=level, comment="", rated_at=when))


def test_satisfaction_rate_on_hand_built_data(in_force, desk, orgtree):
    ward = [_receive(in_force, desk, f"Người {i}")[0] for i in range(6)]
    L = SatisfactionLevel
    _rated(ward[0], L.very_satisfied, at(2026, 11, 2))
    _rated(ward[1], L.satisfied, at(2026, 11, 10))
    _rated(ward[2], L.satisfied, at(2026, 11, 30, 23, 59))
    _rated(ward[3], L.neutral, at(2026, 11, 15))
    _rated(ward[4], L.very_dissatisfied, at(2026, 11, 16))
    _rated(ward[5], L.satisfied, at(2026, 12, 1, 0, 0))  # the next period
    db.session.commit()
    figures = fb.satisfaction(orgtree["ward"], since=at(2026, 11, 1), until=at(2026, 12, 1))
    assert figures == {"counts": {"very_satisfied": 1, "satisfied": 2, "neutral": 1, "dissatisfied": 0,
                                  "very_dissatisfied": 1},
                       "total": 5, "satisfied": 3, "rate": 0.6}
    # Another agency's figures do not include the ward's ratings
    assert fb.satisfaction(orgtree["province"], since=at(2026, 11, 1), until=at(2026, 12, 1))[
        "total"] == 0
    assert fb.satisfaction(orgtree["ward"], since=at(2027, 1, 1), until=at(2027, 2, 1))["rate"] is None


# --- through the lookup page ------------------------------------------------------------------
def _lookup(client, code, secret):
    return client.post("/tra-cuu", data={"code": code, "secret": secret,
                                         "csrf_token": csrf_token(client, "/tra-cuu")})


def _rate(client, code, secret, level="satisfied", comment=""):
    return client.post("/tra-cuu/danh-gia", data={
        "rating-code": code, "rating-secret": secret, "rating-level": level, "rating-comment": comment,
        "csrf_token": csrf_token(client, "/tra-cuu")})


def test_the_lookup_page_offers_the_rating_once_the_result_is_returned(client, in_force, desk, orgtree):
    dossier, secret = _receive(in_force, desk)
    page = text(_lookup(client, dossier.code, secret))
    assert "Đã tiếp nhận" in page and 'id="rating-form"' not in page
    _return(dossier, desk, orgtree)
    page = text(_lookup(client, dossier.code.lower(), secret))
    assert 'id="rating-form"' in page and "Rất hài lòng" in page
    response = _rate(client, dossier.code, secret, level="very_satisfied", comment="Cảm ơn cán bộ")
    page = text(response)
    assert response.status_code == 200
    assert "Cảm ơn ông/bà đã đánh giá." in page
    assert "Ông/bà đã đánh giá hồ sơ này: Rất hài lòng." in page and 'id="rating-form"' not in page
    [rating] = _ratings()
    assert (rating.dossier_id, rating.level, rating.comment) == (
        dossier.id, SatisfactionLevel.very_satisfied, "Cảm ơn cán bộ")
    # A second rating (an old tab) is refused; the first stays
    page = text(_rate(client, dossier.code, secret, level="very_dissatisfied"))
    assert "Hồ sơ này đã được đánh giá." in page
    assert [r.level for r in _ratings()] == [SatisfactionLevel.very_satisfied]


def test_a_wrong_secret_rates_nothing(client, in_force, desk, orgtree):
    dossier, secret = _receive(in_force, desk)
    _return(dossier, desk, orgtree)
    wrong = "A" * len(secret) if secret != "A" * len(secret) else "B" * len(secret)
    response = _rate(client, dossier.code, wrong)
    assert response.status_code == 200
    assert "Không tìm thấy hồ sơ." in text(response)
    response = _rate(client, "TP-A-000000-0000", secret)
    assert "Không tìm thấy hồ sơ." in text(response)
    assert _ratings() == []


def test_a_dossier_not_returned_cannot_be_rated_by_a_crafted_post(client, in_force, desk):
    dossier, secret = _receive(in_force, desk)
    page = text(_rate(client, dossier.code, secret))
    assert "Hồ sơ chưa trả kết quả nên chưa thể đánh giá." in page
    assert _ratings() == []


def test_a_missing_level_is_asked_for(client, in_force, desk, orgtree):
    dossier, secret = _receive(in_force, desk)
    _return(dossier, desk, orgtree)
    page = text(_rate(client, dossier.code, secret, level=""))
    assert "Hãy chọn mức độ hài lòng." in page and 'id="rating-form"' in page
    assert _ratings() == []


def test_rating_is_rate_limited(client, in_force, desk):
    dossier, _secret = _receive(in_force, desk)
    token = csrf_token(client, "/tra-cuu")
    codes = []
    for _i in range(11):
        codes.append(client.post("/tra-cuu/danh-gia", data={
            "rating-code": dossier.code, "rating-secret": "SAIMA123", "rating-level": "satisfied",
            "csrf_token": token}).status_code)
    assert codes == [200] * 10 + [429]
