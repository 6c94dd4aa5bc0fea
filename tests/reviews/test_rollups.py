"""The monthly rollup (issue 12): frozen months read exactly as the live figures, on the
hand-built November and on four generated months of a ward; a rollup is read only for
ended months frozen under today's settings; `qms rollup` freezes and rebuilds."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from qms import clock
from qms.commands import cli
from qms.extensions import db
from qms.models import (
    Channel,
    Dossier,
    MonthlyRollup,
    ResultDelivery,
    Role,
    RollupMonth,
    SatisfactionLevel,
)
from qms.services import (
    dashboards,
    dossiers,
    feedback,
    metrics,
    monthly_reviews,
    nonconformities,
    rollups,
)
from qms.services.metrics import frozen
from qms.services.metrics.steps import step_totals
from tests.reviews.dataset import READ_AT, VN, at

MONTHS = [date(2026, month, 1) for month in (8, 9, 10, 11)]


def freeze(months, now=READ_AT):
    for month in months:
        rollups.store(rollups.count_month(month, now), now)
    db.session.commit()


@pytest.fixture
def history(three_days, desk, orgtree, make_user):
    """About sixty dossiers of the ward from August to the end of November, each taken
    through the services along a seeded random path: steps early, on time or late,
    supplementation, apologies, withdrawals, ratings, left open at the end."""
    rng = random.Random(12)
    head = make_user("truongvanhoa", Role.department_head, department=orgtree["culture"])
    onestop, culture, office = desk["onestop"], desk["culture"], desk["office"]
    who = {1: onestop, 2: culture, 3: office, 4: onestop}
    nexts = {1: orgtree["culture"], 2: orgtree["office"]}
    first = datetime(2026, 8, 3, 8, tzinfo=VN)
    for number in range(60):
        received = first + timedelta(days=rng.randrange(0, 118), hours=rng.randrange(0, 8))
        if received.weekday() >= 5:
            received -= timedelta(days=received.weekday() - 4)
        channel = rng.choice((Channel.direct, Channel.direct, Channel.online, Channel.postal))
        item, _secret = dossiers.receive_dossier(actor=onestop, procedure=three_days, now=received,
                                                 applicant_name=f"Công dân {number}", channel=channel)
        now = received
        if rng.random() < 0.08:
            dossiers.withdraw(item, actor=onestop, reason="Công dân xin rút", now=now + timedelta(hours=2))
            continue
        for position in range(1, 5):
            now += timedelta(hours=rng.choice((0.5, 2, 6, 20, 30, 50, 75, 120, 200)) if position == 2
                             else rng.choice((0.5, 1, 3, 9, 40)))
            if now >= READ_AT or rng.random() < 0.03:  # some are left open, overdue
                break
            if position == 2 and rng.random() < 0.2:
                dossiers.request_supplement(item, actor=culture, reason="Thiếu giấy tờ", now=now)
                now += timedelta(days=rng.randrange(1, 15))
                if now >= READ_AT:
                    break
                dossiers.receive_supplement(item, actor=onestop, now=now)
                now += timedelta(hours=1)
            if position == 2 and rng.random() < 0.15 and item.due_at > now:
                dossiers.apologise(item, actor=head, reason="Chờ xác minh", now=now,
                                   promised_at=item.due_at + timedelta(days=3))
            dossiers.complete_step(item.steps[position - 1], actor=who[position], now=now,
                                   next_department=nexts.get(position))
        else:
            returned = now + timedelta(hours=rng.choice((0, 5, 30)))
            if returned < READ_AT:
                dossiers.return_result(item, actor=onestop, via=ResultDelivery.desk, now=returned)
                if rng.random() < 0.5:
                    level = rng.choice(list(SatisfactionLevel))
                    feedback.rate_dossier(item, level=level, now=returned + timedelta(hours=1))
    nonconformities.check_overdue(datetime(2026, 11, 30, 17, tzinfo=VN))
    db.session.commit()


def scopes(orgtree):
    return ([metrics.Scope.of_department(orgtree[key]) for key in ("onestop", "culture", "office")]
            + [metrics.Scope.of_agency(orgtree["ward"]), metrics.Scope.of_agency(orgtree["province"])])


def periods():
    """Single months, runs of frozen months, and runs that end in a live month."""
    months = [(m, metrics.add_months(m, 1)) for m in MONTHS]
    return months + [(date(2026, 8, 1), date(2026, 12, 1)), (date(2026, 9, 1), date(2027, 1, 1)),
                     (date(2026, 1, 1), date(2027, 1, 1)), (date(2026, 10, 1), date(2026, 11, 20)),
                     (date(2026, 12, 1), date(2027, 1, 1)), (date(2026, 11, 1), date(2026, 11, 20))]


def everything(orgtree):
    """Every figure the rollup can serve, for every scope and period, and the trends."""
    found = {}
    for scope in scopes(orgtree):
        for start, end in periods():
            found[scope.code, start, end] = (metrics.dossier_metrics(scope, start, end, READ_AT),
                                             step_totals(scope, start, end, READ_AT))
        found[scope.code, "series"] = metrics.monthly_series(scope, 6, READ_AT)
    return found


def test_frozen_months_read_as_the_live_ones(history, orgtree):
    live = everything(orgtree)
    assert live["TP-A", MONTHS[0], date(2026, 12, 1)][0]["received"] >= 50  # the generator worked
    assert live["TP-A", MONTHS[0], date(2026, 12, 1)][0]["late"] > 0
    freeze(MONTHS)
    assert everything(orgtree) == live


def test_the_hand_built_november_freezes_to_its_known_figures(november, orgtree):
    live = everything(orgtree)
    freeze([date(2026, 10, 1), date(2026, 11, 1)])
    assert everything(orgtree) == live
    rows = db.session.scalars(sa.select(MonthlyRollup).join(RollupMonth).where(
        RollupMonth.month == date(2026, 11, 1))).all()
    onestop = next(r for r in rows if r.department_id == orgtree["onestop"].id)
    assert (onestop.received, onestop.resolved, onestop.late, onestop.in_progress_overdue,
            onestop.paused_supplement, onestop.carried_over) == (8, 5, 1, 1, 1, 1)


def test_the_figures_of_a_frozen_month_come_from_the_rollup(november, orgtree):
    """Proof that the rollup is what is read: a frozen count changed by hand shows, live=True
    and the monthly review's comparison still read the records."""
    scope = metrics.Scope.of_department(orgtree["onestop"])
    freeze([date(2026, 10, 1), date(2026, 11, 1)])
    november_row = sa.select(RollupMonth.id).where(RollupMonth.month == date(2026, 11, 1)).scalar_subquery()
    db.session.execute(sa.update(MonthlyRollup).where(MonthlyRollup.department_id == orgtree["onestop"].id,
                                                      MonthlyRollup.rollup_month_id == november_row)
                       .values(received=80))
    assert metrics.dossier_metrics(scope, date(2026, 11, 1), date(2026, 12, 1), READ_AT)["received"] == 80
    assert metrics.monthly_series(scope, 3, READ_AT, ["received"])["series"]["received"] == [1, 80, 1]
    # a year to date: October and November frozen, December live
    assert metrics.dossier_metrics(scope, date(2026, 10, 1), date(2027, 1, 1), READ_AT)["received"] == 82
    # December, live, carries over what was open at the end of frozen November
    db.session.execute(sa.update(MonthlyRollup).where(MonthlyRollup.department_id == orgtree["onestop"].id,
                                                      MonthlyRollup.rollup_month_id == november_row)
                       .values(paused_payment=40))
    december = metrics.dossier_metrics(scope, date(2026, 12, 1), date(2027, 1, 1), READ_AT)
    assert december["carried_over"] == 3 + 40
    assert metrics.dossier_metrics(scope, date(2026, 12, 1), date(2027, 1, 1), READ_AT, live=True)["carried_over"] == 3
    assert metrics.dossier_metrics(scope, date(2026, 11, 1), date(2026, 12, 1), READ_AT,
                                   live=True)["received"] == 8
    # read before the month ended, or under another timeliness rule: never the rollup
    assert metrics.dossier_metrics(scope, date(2026, 11, 1), date(2026, 12, 1),
                                   at(30, 11, 18))["received"] == 8


def test_another_rule_ignores_rollups_built_under_the_old_one(november, orgtree, app):
    scope = metrics.Scope.of_department(orgtree["onestop"])
    freeze([date(2026, 11, 1)])
    db.session.execute(sa.update(MonthlyRollup).values(received=80))
    app.config["TIMELINESS_RULE"] = "timestamp"
    try:
        assert metrics.dossier_metrics(scope, date(2026, 11, 1), date(2026, 12, 1), READ_AT)["received"] == 8
        assert date(2026, 11, 1) in rollups.months_to_freeze(READ_AT)
    finally:
        app.config["TIMELINESS_RULE"] = "date"
    assert date(2026, 11, 1) not in rollups.months_to_freeze(READ_AT)


def test_the_leaders_ranking_and_trends_read_the_rollup(november, orgtree):
    month = date(2026, 11, 1)
    before = monthly_reviews.overview(month, READ_AT)
    freeze([date(2026, 10, 1), month])
    after = monthly_reviews.overview(month, READ_AT)
    as_rows = [(r.department.code, r.steps_completed, r.steps_on_time_rate, r.resolved, r.on_time_rate)
               for r in before["ranking"]]
    assert as_rows == [(r.department.code, r.steps_completed, r.steps_on_time_rate, r.resolved,
                        r.on_time_rate) for r in after["ranking"]]
    assert [(r["agency"].code, r["resolved"], r["on_time_rate"]) for r in before["agency_ranking"]] == \
        [(r["agency"].code, r["resolved"], r["on_time_rate"]) for r in after["agency_ranking"]]
    db.session.execute(sa.update(MonthlyRollup).where(MonthlyRollup.department_id == orgtree["onestop"].id)
                       .values(resolved=50, late=0))
    changed = monthly_reviews.overview(month, READ_AT)
    onestop = next(r for r in changed["rows"] if r.department.code == "A-MC")
    assert (onestop.resolved, onestop.on_time_rate) == (50, 100.0)


def test_a_month_not_ended_is_not_frozen(november):
    from qms.errors import ValidationError

    with pytest.raises(ValidationError, match="chưa kết thúc"):
        rollups.count_month(date(2026, 12, 1), READ_AT)


def test_thawing_a_month_reads_it_live_again(november, orgtree):
    scope = metrics.Scope.of_department(orgtree["onestop"])
    freeze([date(2026, 10, 1), date(2026, 11, 1)])
    db.session.execute(sa.update(MonthlyRollup).values(received=80))
    assert rollups.thaw(at(15, 11, 9)) == 1  # November only: October's counts stand
    assert metrics.dossier_metrics(scope, date(2026, 11, 1), date(2026, 12, 1), READ_AT)["received"] == 8
    waiting = rollups.months_to_freeze(READ_AT)
    assert date(2026, 11, 1) in waiting and date(2026, 10, 1) not in waiting


def rollup(app, *args):
    with clock.frozen(READ_AT):
        result = CliRunner().invoke(cli, ["rollup", *args], obj=ScriptInfo(create_app=lambda: app))
    db.session.expire_all()  # the command committed in its own session
    return result


def test_qms_rollup_freezes_the_ended_months_once(november, orgtree, app):
    result = rollup(app)
    assert result.exit_code == 0, result.output
    # the last twelve ended months, records or not: a year's chart reads none from the records
    assert "12/2025" in result.output and "10/2026" in result.output and "11/2026" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RollupMonth)) == 12
    assert len(frozen.frozen_months(metrics.series_months(12, READ_AT), READ_AT)) == 11
    again = rollup(app)
    assert again.exit_code == 0 and "10/2026" not in again.output
    rebuilt = rollup(app, "--rebuild")
    assert rebuilt.exit_code == 0 and "10/2026" in rebuilt.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RollupMonth)) == 12
    refused = rollup(app, "--month", "2026-12")
    assert refused.exit_code != 0 and "chưa kết thúc" in refused.output
    assert "Traceback" not in refused.output


def test_the_dashboards_show_the_same_with_the_rollup(november, orgtree, make_user):
    leader = make_user("lanhdao", Role.leader, department=orgtree["onestop"])
    before = dashboards.leader_panel(leader, READ_AT)
    freeze([date(2026, 10, 1), date(2026, 11, 1)])
    after = dashboards.leader_panel(leader, READ_AT)
    for key in ("figures", "on_time", "online_rate", "channels", "labels"):
        assert after[key] == before[key]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Dossier)) > 0
