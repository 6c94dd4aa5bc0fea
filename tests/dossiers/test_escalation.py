"""Escalation of dossier steps: who is told, when (in working time), never twice; email
when SMTP is configured; the `qms escalate` command."""
from __future__ import annotations

import re
import socket
import threading

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from qms import clock
from qms.commands import cli
from qms.extensions import db
from qms.models import Notification, NotificationKind, Role
from qms.services import dossiers, notifications
from tests.dossiers.conftest import at

# Limit for waits on threads and servers that are usually ready at once: generous, so a busy
# machine (two cores, xdist workers, Chromium) is slow rather than failing.
READY_TIMEOUT = 120  # seconds

DUE_SOON, OVERDUE, ESCALATED = (NotificationKind.step_due_soon, NotificationKind.step_overdue,
                                NotificationKind.step_overdue_escalated)


@pytest.fixture
def step_due_friday_16(three_days, desk, orgtree):
    """A dossier received Friday 27/11/2026 09:00 whose second step (4 working hours) the
    culture department holds from 10:00, due the same day at 16:00."""
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Nguyễn Văn An",
                                                now=at(2026, 11, 27, 9, 0))
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 27, 10, 0),
                           next_department=orgtree["culture"])
    db.session.commit()
    step = dossier.steps[1]
    assert (step.department, step.due_at) == (orgtree["culture"], at(2026, 11, 27, 16, 0))
    return step


def told(kind: NotificationKind | None = None) -> set[tuple[str, NotificationKind]]:
    rows = db.session.execute(sa.select(Notification).where(
        sa.true() if kind is None else Notification.kind == kind)).scalars()
    return {(n.user.username, n.kind) for n in rows}


def test_due_soon_goes_to_the_holding_departments_officers_only(step_due_friday_16, desk, staff,
                                                                 make_user, orgtree):
    retired = make_user("vanhoa2", Role.officer, department=orgtree["culture"])
    retired.active = False
    db.session.commit()
    counts = notifications.escalate(at(2026, 11, 27, 13, 0))
    assert (counts.due_soon, counts.overdue, counts.escalated) == (1, 0, 0)
    # not the head, not the one-stop office (its step is done), not another department,
    # not a deactivated officer
    assert told() == {("vanhoa", DUE_SOON)}
    notice = db.session.scalar(sa.select(Notification))
    code = step_due_friday_16.dossier.code
    assert notice.message == (f"Hồ sơ {code}: bước “Thẩm tra, dự thảo giấy khai sinh” sắp đến "
                              f"hạn (hạn 16:00 27/11/2026).")
    assert notice.link == f"/dossiers/{code}"
    assert notice.step == step_due_friday_16 and notice.read_at is None
    assert notice.created_at == at(2026, 11, 27, 13, 0)


def test_due_soon_counts_working_minutes_not_the_clock(step_due_friday_16):
    # 13:00 → 16:00 is three hours on the clock but 150 working minutes (lunch until 13:30)
    assert notifications.escalate(at(2026, 11, 27, 13, 0), due_soon_minutes=120).due_soon == 0
    assert notifications.escalate(at(2026, 11, 27, 13, 0), due_soon_minutes=150).due_soon == 1


def test_the_margin_comes_from_the_settings(app, monkeypatch, step_due_friday_16):
    monkeypatch.setitem(app.config, "ESCALATION_DUE_SOON_MINUTES", 60)
    assert notifications.escalate(at(2026, 11, 27, 14, 30)).due_soon == 0  # 90 minutes left
    assert notifications.escalate(at(2026, 11, 27, 15, 0)).due_soon == 1


def test_overdue_goes_to_the_head_of_the_holding_department(step_due_friday_16, staff, make_user,
                                                            orgtree):
    make_user("truongvp", Role.department_head, department=orgtree["office"])
    counts = notifications.escalate(at(2026, 11, 27, 16, 1))
    assert (counts.due_soon, counts.overdue, counts.escalated) == (1, 1, 0)
    assert told() == {("vanhoa", DUE_SOON), ("head", OVERDUE)}
    head_notice = db.session.scalar(sa.select(Notification).where(Notification.kind == OVERDUE))
    assert "của Phòng Văn hóa - Xã hội đã quá hạn (hạn 16:00 27/11/2026)" in head_notice.message
    officer_notice = db.session.scalar(sa.select(Notification).where(Notification.kind == DUE_SOON))
    assert "đã quá hạn" in officer_notice.message  # first told once already late: say so


def test_not_overdue_at_the_due_time_itself(step_due_friday_16):
    assert notifications.escalate(at(2026, 11, 27, 16, 0)).overdue == 0


def test_escalation_to_quality_officers_waits_a_working_day_past_due(step_due_friday_16, staff):
    # Friday 16:00 → Monday 07:30 is 63 hours on the clock but only 90 working minutes
    counts = notifications.escalate(at(2026, 11, 30, 7, 30))
    assert (counts.overdue, counts.escalated) == (1, 0)
    # 60 on Friday + 270 + 149 on Monday = 479 working minutes: not yet
    assert notifications.escalate(at(2026, 11, 30, 15, 59)).escalated == 0
    counts = notifications.escalate(at(2026, 11, 30, 16, 0))  # 480: now
    assert counts.escalated == 1
    # the ward has no quality officer of its own: the province's is told
    assert told(ESCALATED) == {("quality", ESCALATED)}
    notice = db.session.scalar(sa.select(Notification).where(Notification.kind == ESCALATED))
    assert "đã quá hạn hơn 8 giờ làm việc (hạn 16:00 27/11/2026)" in notice.message


def test_the_agencys_own_quality_officers_come_first(step_due_friday_16, staff, make_user, orgtree):
    make_user("isophuong", Role.quality_officer, department=orgtree["office"])  # in the ward
    retired = make_user("isocu", Role.quality_officer, department=orgtree["office"])
    retired.active = False
    db.session.commit()
    notifications.escalate(at(2026, 12, 1, 9, 0))
    assert told(ESCALATED) == {("isophuong", ESCALATED)}


def test_the_overdue_margin_comes_from_the_settings(app, monkeypatch, step_due_friday_16, staff):
    monkeypatch.setitem(app.config, "ESCALATION_OVERDUE_MARGIN_MINUTES", 60)
    assert notifications.escalate(at(2026, 11, 27, 16, 59)).escalated == 0
    assert notifications.escalate(at(2026, 11, 30, 7, 0)).escalated == 1  # the weekend is free


def test_repeated_runs_never_notify_twice(step_due_friday_16, staff):
    first = notifications.escalate(at(2026, 12, 1, 9, 0))
    assert (first.due_soon, first.overdue, first.escalated) == (1, 1, 1)
    again = notifications.escalate(at(2026, 12, 1, 9, 0))
    later = notifications.escalate(at(2026, 12, 3, 9, 0))
    assert again.created == later.created == 0
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))) == 3


def test_overlapping_runs_insert_each_notification_once(app, step_due_friday_16, staff):
    """Two runs at once (cron and a page load, two servers): the unique constraint and
    INSERT ... ON CONFLICT DO NOTHING keep one copy, and neither run fails."""
    barrier, results, errors = threading.Barrier(2), [], []

    def run():
        with app.app_context():
            try:
                barrier.wait(timeout=READY_TIMEOUT)
                results.append(notifications.escalate(at(2026, 12, 1, 9, 0)).created)
                db.session.commit()
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=READY_TIMEOUT)
    assert not errors, errors
    assert db.session.scalar(sa.select(sa.func.count(Notification.id))) == 3
    assert sum(results) >= 3


def test_completed_steps_are_not_escalated(step_due_friday_16, desk, staff, orgtree):
    dossiers.complete_step(step_due_friday_16, actor=desk["culture"], now=at(2026, 11, 27, 15, 0),
                           next_department=orgtree["office"])
    db.session.commit()
    # the signing step (2 h from Friday 15:00) is due Monday 08:00: due soon for the office
    counts = notifications.escalate(at(2026, 11, 27, 16, 30))
    assert (counts.due_soon, counts.overdue, counts.escalated) == (1, 0, 0)
    assert told() == {("vanphong", DUE_SOON)}


def test_paused_dossiers_are_not_escalated(step_due_friday_16, desk, staff):
    dossiers.request_supplement(step_due_friday_16.dossier, actor=desk["culture"],
                                reason="Thiếu bản sao giấy chứng sinh", now=at(2026, 11, 27, 11, 0))
    db.session.commit()
    assert notifications.escalate(at(2026, 12, 1, 9, 0)).created == 0
    assert told() == set()


def test_no_dossiers_no_work(orgtree):
    counts = notifications.escalate(at(2026, 12, 1, 9, 0))
    assert counts.created == 0


# --- email ---------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def refused_port():
    """A loopback port where connections are refused: bound (so no other test, in this
    process or another xdist worker, can listen there meanwhile) but not listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on loopback (aiosmtpd) that records what it receives."""
    controller_module = pytest.importorskip("aiosmtpd.controller")

    class Recorder:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):
            from email import message_from_bytes
            from email.policy import default

            self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content,
                                                                        policy=default)))
            return "250 OK"

    recorder = Recorder()
    for attempt in range(3):
        # The port was free a moment ago; another xdist worker may have taken it since.
        controller = controller_module.Controller(recorder, hostname="127.0.0.1",
                                                  port=free_port(), ready_timeout=READY_TIMEOUT)
        try:
            controller.start()  # returns once the server answers (not after a fixed time)
            break
        except OSError:
            if attempt == 2:
                raise
    try:
        yield controller.port, recorder.messages
    finally:
        controller.stop()


@pytest.fixture
def smtp_config(app, monkeypatch):
    def configure(port: int):
        for key, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "SMTP_STARTTLS": False,
                           "MAIL_FROM": "qms@ubnd.example.vn",
                           "BASE_URL": "https://qms.example.vn"}.items():
            monkeypatch.setitem(app.config, key, value)
    return configure


def run_cli(app, when):
    with clock.frozen(when):
        return CliRunner().invoke(cli, ["escalate"], obj=ScriptInfo(create_app=lambda: app))


@pytest.fixture
def with_emails(desk, staff):
    desk["culture"].email = "vanhoa@ubnd.example.vn"
    staff["head"].email = "truongphong@ubnd.example.vn"
    db.session.commit()


def test_cli_prints_the_counts(app, step_due_friday_16, staff):
    result = run_cli(app, at(2026, 12, 1, 9, 0))
    assert result.exit_code == 0, result.output
    assert "1 due soon, 1 overdue, 1 escalated, 0 emailed" in result.output
    result = run_cli(app, at(2026, 12, 1, 9, 5))
    assert "0 due soon, 0 overdue, 0 escalated, 0 emailed" in result.output


def test_email_is_sent_once_when_smtp_is_configured(app, step_due_friday_16, with_emails,
                                                    smtp_server, smtp_config):
    port, received = smtp_server
    smtp_config(port)
    result = run_cli(app, at(2026, 11, 27, 16, 30))
    assert result.exit_code == 0, result.output
    assert "1 due soon, 1 overdue, 0 escalated, 2 emailed" in result.output
    by_recipient = {tuple(to): message for to, message in received}
    assert set(by_recipient) == {("vanhoa@ubnd.example.vn",), ("truongphong@ubnd.example.vn",)}
    code = step_due_friday_16.dossier.code
    mail = by_recipient[("truongphong@ubnd.example.vn",)]
    assert mail["Subject"] == f"[QMS] Bước hồ sơ đã quá hạn: {code}"
    assert mail["From"] == "qms@ubnd.example.vn"
    body = mail.get_content()
    assert "bước “Thẩm tra, dự thảo giấy khai sinh” của Phòng Văn hóa - Xã hội đã quá hạn" in body
    assert f"https://qms.example.vn/dossiers/{code}" in body
    assert all(n.emailed_at == at(2026, 11, 27, 16, 30)
               for n in db.session.scalars(sa.select(Notification)))
    # the next run sends nothing again
    result = run_cli(app, at(2026, 11, 27, 16, 40))
    assert "0 emailed" in result.output and len(received) == 2


def test_users_without_an_address_are_told_in_the_app_only(app, step_due_friday_16, desk,
                                                           smtp_server, smtp_config):
    port, received = smtp_server
    smtp_config(port)
    result = run_cli(app, at(2026, 11, 27, 13, 0))
    assert "1 due soon, 0 overdue, 0 escalated, 0 emailed" in result.output
    assert received == []


def test_no_email_when_smtp_is_not_configured(app, monkeypatch, step_due_friday_16, with_emails):
    sent = []
    monkeypatch.setattr(notifications.smtplib, "SMTP", lambda *a, **k: sent.append(a))
    assert not app.config["SMTP_HOST"]  # off by default
    result = run_cli(app, at(2026, 11, 27, 16, 30))
    assert result.exit_code == 0
    assert "1 due soon, 1 overdue, 0 escalated, 0 emailed" in result.output
    assert sent == []
    assert all(n.emailed_at is None for n in db.session.scalars(sa.select(Notification)))


def test_a_failing_smtp_server_loses_nothing_and_the_next_run_retries(
        app, step_due_friday_16, with_emails, smtp_config, refused_port, caplog):
    smtp_config(refused_port)  # nothing listens there
    result = run_cli(app, at(2026, 11, 27, 16, 30))
    assert result.exit_code == 0, result.output
    assert "1 due soon, 1 overdue, 0 escalated, 0 emailed (2 failed)" in result.output
    assert "cannot reach SMTP server" in caplog.text
    notices = db.session.scalars(sa.select(Notification)).all()
    assert len(notices) == 2 and all(n.emailed_at is None for n in notices)


def test_the_next_run_sends_what_a_failed_run_could_not(app, step_due_friday_16, with_emails,
                                                        smtp_config, smtp_server, refused_port):
    smtp_config(refused_port)
    assert "(2 failed)" in run_cli(app, at(2026, 11, 27, 16, 30)).output
    port, received = smtp_server
    smtp_config(port)  # the server is back
    result = run_cli(app, at(2026, 11, 27, 16, 45))
    assert "0 due soon, 0 overdue, 0 escalated, 2 emailed" in result.output
    assert len(received) == 2
    assert all(n.emailed_at == at(2026, 11, 27, 16, 45)
               for n in db.session.scalars(sa.select(Notification)))


def test_a_read_notification_is_not_emailed_later(app, step_due_friday_16, with_emails, desk,
                                                  smtp_config, smtp_server):
    notifications.escalate(at(2026, 11, 27, 13, 0))  # in-app, from a page load
    db.session.commit()
    notifications.mark_all_read(actor=desk["culture"], now=at(2026, 11, 27, 13, 5))
    db.session.commit()
    port, received = smtp_server
    smtp_config(port)
    assert "0 emailed" in run_cli(app, at(2026, 11, 27, 13, 10)).output
    assert received == []


# --- on page loads ---------------------------------------------------------------------------------
def test_page_loads_escalate_in_app_at_most_every_n_minutes_and_never_email(
        app, monkeypatch, client, step_due_friday_16, staff, smtp_config):
    from tests.conftest import login

    monkeypatch.setitem(app.config, "ESCALATION_AUTO_MINUTES", 10)
    smtp_config(25)  # configured, yet a request never sends email
    sent = []
    monkeypatch.setattr(notifications.smtplib, "SMTP", lambda *a, **k: sent.append(a))
    staff["head"].email = "truongphong@ubnd.example.vn"
    db.session.commit()
    runs = []
    real_escalate = notifications.escalate
    monkeypatch.setattr(notifications, "escalate",
                        lambda now, **kw: runs.append(now) or real_escalate(now, **kw))
    notifications.reset_periodic_run()
    try:
        with clock.frozen(at(2026, 11, 27, 16, 30)):
            assert login(client, "head").status_code == 302
            page = client.get("/").get_data(as_text=True)
        assert re.search(r'id="bell-count">1<', page), "the head's bell shows the overdue step"
        assert told() == {("vanhoa", DUE_SOON), ("head", OVERDUE)}
        assert len(runs) == 1  # once, though three requests were served
        with clock.frozen(at(2026, 11, 27, 16, 39)):
            client.get("/")
        assert len(runs) == 1
        with clock.frozen(at(2026, 11, 27, 16, 41)):
            client.get("/")
        assert len(runs) == 2
    finally:
        notifications.reset_periodic_run()
    assert sent == []
    assert all(n.emailed_at is None for n in db.session.scalars(sa.select(Notification)))


def test_a_failing_automatic_run_does_not_break_the_page(app, monkeypatch, client, orgtree, caplog):
    monkeypatch.setitem(app.config, "ESCALATION_AUTO_MINUTES", 10)

    def broken(now, **kw):
        raise RuntimeError("database went away")

    monkeypatch.setattr(notifications, "escalate", broken)
    notifications.reset_periodic_run()
    try:
        assert client.get("/").status_code == 200
    finally:
        notifications.reset_periodic_run()
    assert "automatic escalation failed" in caplog.text
