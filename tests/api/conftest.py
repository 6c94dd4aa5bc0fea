"""Fixtures for the JSON API tests: the ward's desk and departments (tests/dossiers), the
birth registration procedure in force, a token per integration account, and a client that
speaks JSON with a bearer token."""
from __future__ import annotations

import pytest

from qms import clock
from qms.extensions import db
from qms.services import api_tokens
from tests.dossiers.conftest import at, birth, desk, in_force, staff  # noqa: F401  (fixtures)

# Wednesday 25/11/2026, 09:00 in Hà Nội: a working day, after the process took effect.
WEDNESDAY = at(2026, 11, 25, 9, 0)


@pytest.fixture
def wednesday():
    with clock.frozen(WEDNESDAY):
        yield WEDNESDAY


@pytest.fixture
def tokens(desk, wednesday):  # noqa: F811
    """A token for each desk account: motcua (one-stop), vanhoa, vanphong, tinh."""
    issued = {}
    for key, user in desk.items():
        _token, plaintext = api_tokens.issue_token(user, name=f"Tích hợp {key}", actor=None,
                                                   now=wednesday)
        issued[key] = plaintext
    db.session.commit()
    return issued


class Api:
    """The test client, calling /api/v1 with a bearer token."""

    def __init__(self, client, token: str | None):
        self.client, self.token = client, token

    def headers(self, extra=None):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**headers, **(extra or {})}

    def get(self, path, **kwargs):
        return self.client.get("/api/v1" + path, headers=self.headers(kwargs.pop("headers", None)),
                               **kwargs)

    def post(self, path, json=None, **kwargs):
        if json is not None:
            kwargs["json"] = json
        return self.client.post("/api/v1" + path, headers=self.headers(kwargs.pop("headers", None)),
                                **kwargs)


@pytest.fixture
def api(app, tokens):
    """api(who) → an Api for that desk account's token (who: "onestop", "culture", ...), or
    api(None) for no token at all."""
    def make(who: str | None, *, token: str | None = None):
        return Api(app.test_client(), token or (tokens[who] if who else None))

    return make


PORTAL_DOSSIER = {
    "procedure_code": "1.001193",
    "applicant": {"name": "Nguyễn Thị Hoa", "id_number": "001190012345", "phone": "0901234567",
                  "address": "12 Lê Lợi, phường An Hòa", "email": "hoa@example.vn"},
    "channel": "online",
    "components": ["Tờ khai đăng ký khai sinh"],
    "return_method": "Bưu chính công ích",
}
