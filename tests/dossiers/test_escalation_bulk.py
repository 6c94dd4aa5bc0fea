"""`escalate` at scale: the steps are chosen in SQL, each kind's missing notifications are
found by one query and inserted by one INSERT ... ON CONFLICT DO NOTHING, so the number of
statements does not grow with the number of steps; and it runs from cron, not from page
loads, unless an office turns that on."""
from __future__ import annotations

import sqlalchemy as sa

from qms.config import Config
from qms.extensions import db
from qms.models import Notification, NotificationKind, Role
from qms.services import dossiers, notifications
from tests.conftest import statements
from tests.dossiers.conftest import at

DUE_SOON, OVERDUE, ESCALATED = (NotificationKind.step_due_soon, NotificationKind.step_overdue,
                                NotificationKind.step_overdue_escalated)




def steps_at_culture(procedure, desk, orgtree, count: int, day: int):
    """`count` dossiers received on `day`/11/2026 09:00 whose second step (4 working hours)
    the culture department holds from 10:00."""
    steps = []
    for _ in range(count):
        dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=procedure,
                                                    applicant_name="Lê Văn Cường",
                                                    now=at(2026, 11, day, 9, 0))
        dossiers.complete_step(dossier.steps[0], actor=desk["onestop"],
                               now=at(2026, 11, day, 10, 0), next_department=orgtree["culture"])
        steps.append(dossier.steps[1])
    db.session.commit()
    return steps


def kinds() -> dict[NotificationKind, int]:
    return dict(db.session.execute(sa.select(Notification.kind, sa.func.count(Notification.id))
                                   .group_by(Notification.kind)).all())


def test_the_statement_count_does_not_grow_with_the_steps(three_days, desk, staff, orgtree,
                                                          make_user):
    make_user("vanhoa2", Role.officer, department=orgtree["culture"])  # two officers told
    steps_at_culture(three_days, desk, orgtree, 5, 26)  # due Thursday 26/11 16:00
    with statements() as few:
        counts = notifications.escalate(at(2026, 11, 30, 9, 0))  # every kind is due
    db.session.commit()
    assert (counts.due_soon, counts.overdue, counts.escalated) == (10, 5, 5)
    steps_at_culture(three_days, desk, orgtree, 50, 27)  # due Friday 27/11 16:00
    with statements() as many:
        counts = notifications.escalate(at(2026, 12, 1, 9, 0))
    db.session.commit()
    assert (counts.due_soon, counts.overdue, counts.escalated) == (100, 50, 50)
    assert len(many) == len(few), (few, many)
    assert kinds() == {DUE_SOON: 110, OVERDUE: 55, ESCALATED: 55}
    # nothing new: the same queries and no INSERT
    with statements() as idle:
        assert notifications.escalate(at(2026, 12, 1, 9, 5)).created == 0
    assert not any(s.lstrip().upper().startswith("INSERT") for s in idle)
    assert len(idle) == len(few) - 3


def test_a_large_set_is_notified_once_with_its_messages(three_days, desk, staff, orgtree):
    steps = steps_at_culture(three_days, desk, orgtree, 40, 27)
    counts = notifications.escalate(at(2026, 11, 27, 16, 30))  # past due, within the margin
    db.session.commit()
    assert (counts.due_soon, counts.overdue, counts.escalated) == (40, 40, 0)
    messages = dict(db.session.execute(
        sa.select(Notification.step_id, Notification.message)
        .where(Notification.kind == OVERDUE)).all())
    assert messages == {
        step.id: (f"Hồ sơ {step.dossier.code}: bước “{step.name}” của Phòng Văn hóa - Xã hội "
                  f"đã quá hạn (hạn 16:00 27/11/2026).") for step in steps}
    again = notifications.escalate(at(2026, 12, 1, 9, 0))
    assert (again.due_soon, again.overdue, again.escalated) == (0, 0, 40)
    assert notifications.escalate(at(2026, 12, 2, 9, 0)).created == 0
    assert kinds() == {DUE_SOON: 40, OVERDUE: 40, ESCALATED: 40}


def test_page_loads_do_not_escalate_by_default():
    # cron (`qms escalate`) is the way; an office without cron may turn it on
    assert Config.ESCALATION_AUTO_MINUTES == 0
