"""Odd input gets a 400 or a 422 with a message, never a 500, on SQLite and PostgreSQL
(issue 14): a page number past any list, NUL in a query, a lone surrogate or a
100,000-deep document in the API's JSON, an endless list, a body past the size limit."""
import pytest

from tests.api.conftest import api, tokens, wednesday  # noqa: F401  (fixtures)
from tests.conftest import browser_as
from tests.dossiers.conftest import birth, desk, in_force, staff  # noqa: F401  (fixtures)
from tests.web.conftest import text


@pytest.fixture
def admin(app, make_user):
    from qms.models import Role

    make_user("quantri", Role.admin)
    return browser_as(app, "quantri")


@pytest.mark.parametrize("url", [
    "/dossiers/register?page=99999999999999999999",
    "/quality/nonconformities?page=99999999999999999999",
    "/thu-tuc/?page=99999999999999999999",
    "/dossiers/register?procedure=%00abc",
    "/thu-tuc/?q=%00",
    "/thu-tuc/?q=" + "a" * 5000,
])
def test_odd_queries_are_refused_with_a_page(admin, url):
    response = admin.get(url)
    assert response.status_code == 400 and "Yêu cầu không hợp lệ" in text(response)


def test_ordinary_queries_still_work(admin):
    assert admin.get("/dossiers/register?page=2&procedure=khai+sinh").status_code == 200
    assert admin.get("/thu-tuc/?q=khai+sinh&page=abc").status_code == 200


def test_odd_json_is_refused(api, in_force):  # noqa: F811
    deep = "[" * 100_000 + "]" * 100_000
    response = api("onestop").post("/dossiers", data=deep, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    nested = {"procedure_code": "1.001193", "applicant": {"name": "A"}, "x": [[[[[[[[[[1]]]]]]]]]]}
    response = api("onestop").post("/dossiers", json=nested)
    assert response.status_code == 400 and "lồng quá 8 cấp" in response.json["error"]["message"]
    response = api("onestop").post("/dossiers", json={"procedure_code": "1.001193", "applicant": {"name": "A"},
                                                      "components": ["Tờ khai"] * 1000})
    assert response.status_code == 422 and response.json["error"]["errors"][0]["field"] == "components"


def test_a_lone_surrogate_is_cleaned_like_a_control_character(api, in_force):  # noqa: F811
    body = '{"procedure_code": "1.001193", "applicant": {"name": "L\\ud800\\u00ea Hoa\\u0000"}}'
    response = api("onestop").post("/dossiers", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["applicant"]["name"] == "Lê Hoa"


def test_a_body_past_the_limit_gets_413(app, admin, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    response = admin.post("/dossiers/receive", data={"applicant_name": "x" * 4096})
    assert response.status_code == 413 and "quá lớn" in text(response)
