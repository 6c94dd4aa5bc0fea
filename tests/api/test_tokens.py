"""API tokens: issued once in clear and stored hashed, acting as their user until revoked or
the user is deactivated; `qms create-token` on the command line."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from qms.commands import cli
from qms.errors import Conflict, ValidationError
from qms.extensions import db
from qms.models import ApiToken, AuditLog, Role
from qms.services import accounts, api_tokens
from tests.api.conftest import WEDNESDAY


@pytest.fixture
def officer(desk):
    return desk["onestop"]


def issue(user, now=WEDNESDAY, name="Cổng dịch vụ công tỉnh", actor=None):
    token, plaintext = api_tokens.issue_token(user, name=name, actor=actor, now=now)
    db.session.commit()
    return token, plaintext


def test_a_token_is_shown_once_and_only_its_hash_is_kept(officer, make_user):
    admin = make_user("quantri", Role.admin)
    token, plaintext = issue(officer, actor=admin)
    assert plaintext.startswith("qms_") and len(plaintext) == 4 + 43
    assert token.token_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert token.prefix == plaintext[4:12]
    assert (token.user, token.created_by, token.created_at) == (officer, admin, WEDNESDAY)
    # The plaintext is nowhere in the database, the audit log included.
    stored = [str(row) for row in db.session.execute(sa.select(ApiToken.__table__))]
    stored += [str(row) for row in db.session.execute(sa.select(AuditLog.__table__))]
    assert not any(plaintext in row or plaintext[4:] in row for row in stored)
    created = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "api_token.created")).one()
    assert created.actor_name == "quantri" and created.changes["token_hash"] == "***"
    # Two tokens never share a value.
    assert issue(officer)[1] != plaintext


def test_authenticate_finds_the_user_of_a_valid_token_only(officer):
    _token, plaintext = issue(officer)
    assert api_tokens.authenticate(plaintext, WEDNESDAY) == officer
    for wrong in ("", None, plaintext[:-1], plaintext + "x", "qms_" + "A" * 43, plaintext[4:],
                  "Bearer " + plaintext):
        assert api_tokens.authenticate(wrong, WEDNESDAY) is None, wrong


def test_a_revoked_token_stops_working_and_is_kept(officer, make_user):
    admin = make_user("quantri", Role.admin)
    token, plaintext = issue(officer)
    api_tokens.revoke(token, actor=admin, now=WEDNESDAY + timedelta(hours=1))
    db.session.commit()
    assert api_tokens.authenticate(plaintext, WEDNESDAY + timedelta(hours=2)) is None
    assert (token.revoked_at, token.revoked_by) == (WEDNESDAY + timedelta(hours=1), admin)
    assert db.session.get(ApiToken, token.id) is not None  # never deleted
    with pytest.raises(Conflict):
        api_tokens.revoke(token, actor=admin, now=WEDNESDAY + timedelta(hours=3))


def test_deactivating_the_user_stops_their_tokens(officer):
    _token, plaintext = issue(officer)
    accounts.set_active(officer, False, actor=None)
    db.session.commit()
    assert api_tokens.authenticate(plaintext, WEDNESDAY) is None
    accounts.set_active(officer, True, actor=None)
    db.session.commit()
    assert api_tokens.authenticate(plaintext, WEDNESDAY) == officer


def test_tokens_are_issued_to_active_accounts_with_a_name(officer):
    with pytest.raises(ValidationError, match="Hãy đặt tên"):
        api_tokens.issue_token(officer, name="  ", actor=None, now=WEDNESDAY)
    with pytest.raises(ValidationError, match="tối đa 128"):
        api_tokens.issue_token(officer, name="x" * 129, actor=None, now=WEDNESDAY)
    accounts.set_active(officer, False, actor=None)
    with pytest.raises(Conflict, match="đã bị khoá"):
        api_tokens.issue_token(officer, name="Cổng", actor=None, now=WEDNESDAY)


def test_last_use_is_written_at_most_once_a_minute_and_not_audited(officer):
    token, plaintext = issue(officer)
    assert token.last_used_at is None
    audit_rows = db.session.scalar(sa.select(sa.func.count(AuditLog.id)))

    def used(at):
        api_tokens.authenticate(plaintext, at)
        db.session.commit()
        return db.session.get(ApiToken, token.id).last_used_at

    assert used(WEDNESDAY) == WEDNESDAY
    assert used(WEDNESDAY + timedelta(seconds=30)) == WEDNESDAY  # no write within the minute
    assert used(WEDNESDAY + timedelta(seconds=61)) == WEDNESDAY + timedelta(seconds=61)
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id))) == audit_rows


# --- qms create-token ---------------------------------------------------------------------------
def run(app, *args):
    return CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))


def test_create_token_prints_a_working_token_once(app, officer):
    result = run(app, "create-token", "MotCua", "--name", "Cổng dịch vụ công tỉnh")
    assert result.exit_code == 0, result.output
    plaintext = result.stdout.strip().splitlines()[-1]
    assert plaintext.startswith("qms_")
    assert "shown only now" in result.stderr
    db.session.expire_all()
    token = db.session.scalars(sa.select(ApiToken)).one()
    assert (token.name, token.user.username, token.created_by) == ("Cổng dịch vụ công tỉnh", "motcua", None)
    assert api_tokens.authenticate(plaintext, WEDNESDAY) == officer
    assert db.session.scalars(sa.select(AuditLog.actor_name).where(
        AuditLog.action == "api_token.created")).one() == "cli:create-token"


@pytest.mark.parametrize("username,message", [("khongco", "no user named khongco"),
                                              ("motcua", "deactivated")])
def test_create_token_refuses_unknown_and_inactive_users(app, officer, username, message):
    accounts.set_active(officer, False, actor=None)
    db.session.commit()
    result = run(app, "create-token", username)
    assert result.exit_code != 0
    assert "Error:" in result.output and message in result.output
    assert "Traceback" not in result.output
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 0
