"""The `qms` commands: in-process through click's CliRunner against the session app (on
SQLite or PostgreSQL), and as real processes for the entry points and the settings they
read (QMS_INSTANCE_PATH, QMS_DATABASE_URL)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from qms import resource_folder
from qms.extensions import db
from qms.models import Agency, AgencyLevel, Department, Role, User
from qms.services import accounts, demo
from tests.cli.conftest import QMS_BIN, ROOT, clean_env, table_names
from tests.conftest import PASSWORD

HEAD = ScriptDirectory(resource_folder("migrations")).get_current_head()
NEW_PASSWORD = "Mot-mat-khau-moi-2026"
DEMO_ROLES = {
    "admin": {Role.admin},
    "quality": {Role.quality_officer},
    "officer": {Role.officer},
    "head": {Role.department_head},
    "leader": {Role.leader},
    "leadertp": {Role.leader},
    "auditor": {Role.auditor},
}


def parse_demo_passwords(output: str) -> dict[str, str]:
    """The user name / password table that seed-demo and demo print."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("demo users"))
    passwords = {}
    for line in lines[start + 1:]:
        match = re.fullmatch(r"\s+(\S+)\s+(\S+)\s*", line)
        if not match:
            break
        passwords[match[1]] = match[2]
    return passwords


def assert_clean_failure(result, *fragments: str) -> None:
    """A failed command: non-zero exit, a one-line error naming the problem, no traceback."""
    assert result.exit_code != 0, result.output
    assert "Traceback" not in result.output
    assert "Error:" in result.output
    for fragment in fragments:
        assert fragment in result.output, result.output
    # a click.ClickException, not a crash
    assert isinstance(result.exception, SystemExit), result.exception


# --- entry points ---------------------------------------------------------------------------
@pytest.mark.parametrize("command", [[str(QMS_BIN)], [sys.executable, "cli.py"]],
                         ids=["console-script", "cli.py"])
def test_entry_points_list_the_commands(command, tmp_path):
    result = subprocess.run([*command, "--help"], check=False, cwd=ROOT, capture_output=True,
                            text=True, timeout=60,
                            env=clean_env(QMS_INSTANCE_PATH=str(tmp_path)))
    assert result.returncode == 0, result.stderr
    for name in ("init", "create-user", "set-password", "set-active", "seed-demo", "serve",
                 "demo", "db"):
        assert re.search(rf"^\s+{name}\s", result.stdout, re.MULTILINE), f"{name} missing"
    # Flask's debug server is deliberately not offered
    assert not re.search(r"^\s+run\s", result.stdout, re.MULTILINE)


# --- init -------------------------------------------------------------------------------------
def test_init_on_the_migrated_database_is_a_no_op(app, invoke, orgtree):
    result = invoke(app, "init")
    assert result.exit_code == 0, result.output
    assert f"database ready at revision {HEAD}" in result.output
    assert db.session.scalar(sa.select(sa.func.count(Department.id))) == 4  # data kept


def test_init_defaults_to_sqlite_in_the_instance_folder(run_qms, instance):
    result = run_qms("init")
    assert result.returncode == 0, result.stderr
    database = instance / "qms.sqlite3"
    assert database.is_file()
    assert str(database) in result.stdout
    assert "user_account" in table_names(f"sqlite:///{database}")
    assert (instance / "secret_key").is_file()


# --- uninitialised database -------------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ["create-user", "lan", "--role", "officer", "--department", "A-VP", "--password-stdin"],
    ["set-password", "lan", "--password-stdin"],
    ["set-active", "lan", "off"],
    ["seed-demo"],
], ids=lambda args: args[0])
def test_commands_on_an_uninitialised_database_say_run_init(fresh_app, invoke, args):
    result = invoke(fresh_app, *args, input=PASSWORD + "\n")
    assert_clean_failure(result, "qms init")


def test_uninitialised_database_message_as_a_process(run_qms, fresh_url):
    result = run_qms("seed-demo", env={"QMS_DATABASE_URL": fresh_url})
    assert result.returncode != 0
    assert "qms init" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


# --- create-user ------------------------------------------------------------------------------
def test_create_user_with_password_from_stdin_and_several_roles(app, invoke, orgtree):
    result = invoke(app, "create-user", "Lan.Nguyen", "--role", "officer", "--role", "auditor",
                    "--department", "a-vhxh", "--full-name", "Nguyễn Thị Lan",
                    "--email", "lan@example.vn", "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "created user lan.nguyen" in result.output
    db.session.expire_all()
    user = accounts.get_user_by_username("lan.nguyen")
    assert user is not None
    assert user.roles == {Role.officer, Role.auditor}
    assert user.department.code == "A-VHXH"
    assert user.full_name == "Nguyễn Thị Lan"
    assert user.email == "lan@example.vn"
    assert accounts.log_in("lan.nguyen", PASSWORD).id == user.id


def test_create_user_prompts_for_the_password_twice(app, invoke, orgtree):
    result = invoke(app, "create-user", "binh", "--role", "leader", "--department", "A-VP",
                    input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden input
    assert accounts.log_in("binh", PASSWORD) is not None


def test_create_user_in_an_unknown_department_fails_clearly(app, invoke, orgtree):
    result = invoke(app, "create-user", "lan", "--role", "officer", "--department", "NOPE",
                    "--password-stdin", input=PASSWORD + "\n")
    assert_clean_failure(result, "NOPE")
    assert result.exit_code == 1
    assert accounts.get_user_by_username("lan") is None


def test_create_user_with_a_weak_password_fails_clearly(app, invoke, orgtree):
    result = invoke(app, "create-user", "lan", "--role", "officer", "--department", "A-VP",
                    "--password-stdin", input="short1\n")
    assert_clean_failure(result, "Mật khẩu", "10")
    db.session.expire_all()
    assert accounts.get_user_by_username("lan") is None


def test_create_user_with_an_empty_stdin_fails_clearly(app, invoke, orgtree):
    result = invoke(app, "create-user", "lan", "--role", "officer", "--department", "A-VP",
                    "--password-stdin", input="")
    assert_clean_failure(result, "standard input")
    assert accounts.get_user_by_username("lan") is None


def test_create_user_twice_fails_clearly(app, invoke, orgtree):
    args = ["create-user", "lan", "--role", "officer", "--department", "A-VP",
            "--password-stdin"]
    assert invoke(app, *args, input=PASSWORD + "\n").exit_code == 0
    result = invoke(app, *args[:1], "LAN", *args[2:], input=PASSWORD + "\n")
    assert_clean_failure(result, "lan")
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_create_user_with_an_unknown_role_is_a_usage_error(app, invoke, orgtree):
    result = invoke(app, "create-user", "lan", "--role", "superuser", "--department", "A-VP",
                    "--password-stdin", input=PASSWORD + "\n")
    assert result.exit_code == 2
    assert "Invalid value for '--role'" in result.output
    assert "superuser" in result.output
    assert accounts.get_user_by_username("lan") is None


def test_create_user_needs_a_role(app, invoke, orgtree):
    result = invoke(app, "create-user", "lan", "--department", "A-VP", "--password-stdin",
                    input=PASSWORD + "\n")
    assert result.exit_code == 2
    assert "--role" in result.output


# --- set-password / set-active ----------------------------------------------------------------
def test_set_password_replaces_the_password_and_ends_sessions(app, invoke, make_user):
    user = make_user("lan", Role.officer)
    old_token = user.session_token
    result = invoke(app, "set-password", "LAN", "--password-stdin", input=NEW_PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    assert "password changed for lan" in result.output
    db.session.expire_all()
    assert accounts.log_in("lan", NEW_PASSWORD) is not None
    assert accounts.log_in("lan", PASSWORD) is None
    assert db.session.get(User, user.id).session_token != old_token


def test_set_password_refuses_a_weak_password(app, invoke, make_user):
    make_user("lan", Role.officer)
    result = invoke(app, "set-password", "lan", "--password-stdin", input="123\n")
    assert_clean_failure(result, "Mật khẩu")
    db.session.expire_all()
    assert accounts.log_in("lan", PASSWORD) is not None


def test_set_password_for_an_unknown_user_fails_clearly(app, invoke, orgtree):
    result = invoke(app, "set-password", "ghost", "--password-stdin", input=NEW_PASSWORD + "\n")
    assert_clean_failure(result, "ghost")


def test_set_active_off_and_on(app, invoke, make_user):
    user = make_user("lan", Role.officer)
    old_token = user.session_token
    result = invoke(app, "set-active", "lan", "off")
    assert result.exit_code == 0, result.output
    assert "deactivated" in result.output
    db.session.expire_all()
    assert db.session.get(User, user.id).active is False
    assert db.session.get(User, user.id).session_token != old_token
    assert accounts.log_in("lan", PASSWORD) is None

    result = invoke(app, "set-active", "lan", "on")
    assert result.exit_code == 0, result.output
    assert "lan is now active" in result.output
    db.session.expire_all()
    assert accounts.log_in("lan", PASSWORD) is not None


def test_set_active_needs_on_or_off(app, invoke, make_user):
    make_user("lan", Role.officer)
    result = invoke(app, "set-active", "lan", "maybe")
    assert result.exit_code == 2
    assert db.session.get(User, accounts.get_user_by_username("lan").id).active is True


def test_set_active_for_an_unknown_user_fails_clearly(app, invoke, orgtree):
    assert_clean_failure(invoke(app, "set-active", "ghost", "off"), "ghost")


# --- seed-demo --------------------------------------------------------------------------------
def test_seed_demo_loads_the_organisation_and_one_user_per_role(app, invoke):
    result = invoke(app, "seed-demo")
    assert result.exit_code == 0, result.output
    db.session.expire_all()

    agencies = {a.code: a for a in db.session.scalars(sa.select(Agency))}
    assert set(agencies) == {code for code, *_ in demo.AGENCIES}
    assert len(agencies) == 5
    assert agencies["CT"].level is AgencyLevel.province
    assert agencies["CT-NK"].parent.code == "CT"
    assert agencies["CT-QNK"].successor.code == "CT-NK"
    departments = set(db.session.scalars(sa.select(Department.code)))
    assert departments == {code for code, *_ in demo.DEPARTMENTS}
    assert any(d.is_one_stop for d in db.session.scalars(sa.select(Department)))

    passwords = parse_demo_passwords(result.output)
    assert set(passwords) == set(DEMO_ROLES)
    assert len(set(passwords.values())) == len(DEMO_ROLES)  # not one shared password
    for username, roles in DEMO_ROLES.items():
        user = accounts.log_in(username, passwords[username])
        assert user is not None, f"printed password of {username} does not work"
        assert user.roles == roles
        assert user.active
    db.session.commit()


def test_seed_demo_twice_is_refused(app, invoke):
    assert invoke(app, "seed-demo").exit_code == 0
    result = invoke(app, "seed-demo")
    assert_clean_failure(result, "already has users")
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == len(DEMO_ROLES)


def test_seed_demo_refuses_a_database_with_real_users(app, invoke, make_user):
    make_user("lan", Role.officer)
    result = invoke(app, "seed-demo")
    assert_clean_failure(result, "already has users")
    assert db.session.scalar(sa.select(sa.func.count(Agency.id))) == 2  # orgtree only


def test_full_cli_session_as_processes(run_qms, fresh_url, instance):
    """init (twice) → seed-demo → create-user → set-active as real processes on one database.

    QMS_DATABASE_URL picks the database: a fresh PostgreSQL schema when
    QMS_TEST_DATABASE_URL is set, else a tmp SQLite file."""
    env = {"QMS_DATABASE_URL": fresh_url}
    first = run_qms("init", env=env)
    assert first.returncode == 0, first.stderr
    assert f"database ready at revision {HEAD}" in first.stdout
    assert {"agency", "department", "user_account", "user_role", "audit_log",
            "alembic_version"} <= table_names(fresh_url)
    again = run_qms("init", env=env)  # idempotent: an upgrade with nothing to do
    assert again.returncode == 0, again.stderr
    assert f"database ready at revision {HEAD}" in again.stdout
    seeded = run_qms("seed-demo", env=env)
    assert seeded.returncode == 0, seeded.stderr
    assert set(parse_demo_passwords(seeded.stdout)) == set(DEMO_ROLES)
    created = run_qms("create-user", "lan", "--role", "officer", "--department", "NK-VHXH",
                      "--password-stdin", env=env, input=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    unknown = run_qms("create-user", "mai", "--role", "officer", "--department", "XX",
                      "--password-stdin", env=env, input=PASSWORD + "\n")
    assert unknown.returncode == 1
    assert "XX" in unknown.stderr and "Traceback" not in unknown.stderr
    assert run_qms("set-active", "lan", "off", env=env).returncode == 0
    engine = sa.create_engine(fresh_url)
    try:
        with engine.connect() as conn:
            rows = dict(conn.execute(sa.text("SELECT username, active FROM user_account")).all())
    finally:
        engine.dispose()
    assert set(rows) == set(DEMO_ROLES) | {"lan"}
    assert not rows["lan"] and all(rows[name] for name in DEMO_ROLES)
    assert not Path(instance / "qms.sqlite3").exists()
