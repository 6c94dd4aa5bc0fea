"""`qms check-overdue`: what cron runs. It prints each nonconformity it raised, raises nothing
twice, and exits 0 when there is nothing to do."""
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from qms import clock
from qms.commands import cli
from qms.extensions import db
from qms.models import AuditLog, NcSource, Nonconformity
from qms.services import dossiers
from tests.dossiers.conftest import at

NOTHING = "Không có bước hay hồ sơ quá hạn mới."


def run(app, when):
    with clock.frozen(when):
        result = CliRunner().invoke(cli, ["check-overdue"], obj=ScriptInfo(create_app=lambda: app))
    db.session.expire_all()  # the command committed in its own session
    return result


def receive(procedure, officer, when):
    dossier, _secret = dossiers.receive_dossier(actor=officer, procedure=procedure,
                                                applicant_name="Hoàng Văn Minh", now=when)
    db.session.commit()
    return dossier


def test_nothing_to_do_exits_zero(app, orgtree):
    result = run(app, at(2026, 11, 23, 8, 0))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == NOTHING


def test_prints_each_raised_nonconformity_and_a_summary(app, three_days, desk, orgtree):
    dossier = receive(three_days, desk["onestop"], at(2026, 11, 20, 9, 0))
    # Thursday 27/11: the first step (due Friday 10:00) and the dossier (due 26/11) are late
    result = run(app, at(2026, 11, 27, 8, 0))
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 3, result.output
    step_line, dossier_line, summary = lines
    code, source, department, description = step_line.split("\t")
    assert (code, source, department) == ("NC-2026-0001", "Bước xử lý quá hạn",
                                          "A-MC Bộ phận một cửa")
    assert "Tiếp nhận, kiểm tra hồ sơ" in description and dossier.code in description
    assert dossier_line.split("\t")[:2] == ["NC-2026-0002", "Hồ sơ quá hạn"]
    assert summary == "Đã ghi nhận 2 sự không phù hợp: 1 bước quá hạn, 1 hồ sơ quá hạn."
    # committed: a new session sees them, attributed to the system in the audit log
    rows = db.session.scalars(sa.select(Nonconformity).order_by(Nonconformity.id)).all()
    assert [(nc.code, nc.source) for nc in rows] == [
        ("NC-2026-0001", NcSource.overdue_step), ("NC-2026-0002", NcSource.overdue_dossier)]
    logged = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "nonconformity.raised")).all()
    assert len(logged) == 2 and all(row.actor_id is None for row in logged)

    # cron runs again: nothing new, still exit 0
    again = run(app, at(2026, 11, 27, 8, 15))
    assert again.exit_code == 0 and again.output.strip() == NOTHING
    assert db.session.scalar(sa.select(sa.func.count(Nonconformity.id))) == 2


def test_a_paused_dossier_raises_nothing(app, three_days, desk):
    dossier = receive(three_days, desk["onestop"], at(2026, 11, 20, 9, 0))
    dossiers.request_supplement(dossier, actor=desk["onestop"], reason="Thiếu tờ khai",
                                now=at(2026, 11, 20, 9, 30))
    db.session.commit()
    result = run(app, at(2026, 12, 15, 8, 0))
    assert result.exit_code == 0 and result.output.strip() == NOTHING
